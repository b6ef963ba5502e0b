// A file source with loop: true plays its clip again and again until the daemon is stopped; the
// output holds more frames than the clip, in the clip's order, and the accounting is exact.
#include <signal.h>

#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

using FileLoop = CvpipeTest;

TEST_F(FileLoop, PlaysTheClipAgainUntilStopped) {
  constexpr int kClipFrames = 10;
  ASSERT_TRUE(make_clip(path("clip.mkv"), cv::Size(64, 48), kClipFrames));
  const std::string config = write("loop.yaml", R"(source:
  type: file
  path: clip.mkv
  loop: true
stages:
  - name: copy
    workers: 2
    ops: [{op: identity}]
sink:
  type: images
  path: out/%06d.png
log: {stats_interval: 0}
)");
  RunningProgram daemon = start_cvpipe({"run", config});
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (list_dir(path("out")).size() < 3 * kClipFrames && !daemon.has_exited() &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_FALSE(daemon.has_exited()) << "a looped file must not end\n" << describe(finish_cvpipe(daemon));
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(daemon, 20s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped")) << r.out;
  EXPECT_EQ(s.integer("frames_dropped"), 0) << "a file source blocks; nothing is lost";
  EXPECT_GE(s.integer("frames_written"), 3 * kClipFrames);
  const std::vector<cv::Mat> frames = read_images(path("out"));
  ASSERT_EQ(static_cast<long long>(frames.size()), s.integer("frames_written"));
  // Frame i is the clip's frame i % 10: each pass is the clip again, whole and in order.
  const std::vector<cv::Mat> clip = read_video(path("clip.mkv"));
  ASSERT_EQ(clip.size(), static_cast<std::size_t>(kClipFrames));
  for (std::size_t i = 0; i < frames.size(); ++i)
    ASSERT_TRUE(identical(frames[i], clip[i % clip.size()])) << "frame " << i;
}

}  // namespace
}  // namespace cvpipe
