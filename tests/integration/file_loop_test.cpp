// A file source with loop: true plays its clip again and again until the daemon is stopped; the
// output holds more frames than the clip, in the clip's order, and the accounting is exact. A
// window of the file (start, max_frames) is exactly those frames; paced, it takes its real time.
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

TEST_F(FileLoop, AWindowOfTheFileIsExactlyItsFrames) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), cv::Size(64, 48), 30));
  const std::string config = write("window.yaml", "source: {type: file, path: clip.mkv, start_frame: 10, max_frames: 8}\n"
                                                  "stages: [{name: copy, workers: 2, ops: [{op: identity}]}]\n"
                                                  "sink: {type: images, path: out/%06d.png}\n");
  const RunResult r = run_cvpipe({"run", config});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(summary_of(r).integer("frames_written"), 8);
  const std::vector<cv::Mat> written = read_images(path("out"));
  ASSERT_EQ(written.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(identical(written[static_cast<std::size_t>(i)], clip_frame(10 + i, {64, 48}))) << i;
  // The same by time: frame 10 of a 25 fps clip is at 0.4 s; 8 frames are 0.32 s.
  // (Paths given with --set are relative to the current directory, not the config's.)
  const RunResult timed = run_cvpipe({"run", config, "--set",
                                      "source={type: file, path: " + path("clip.mkv") + ", start: 0.4, duration: 0.32}",
                                      "--set", "sink.path=" + path("timed/%06d.png")});
  ASSERT_EQ(timed.exit_code, 0) << describe(timed);
  const std::vector<cv::Mat> by_time = read_images(path("timed"));
  ASSERT_EQ(by_time.size(), 8u);
  EXPECT_TRUE(identical(by_time.front(), clip_frame(10, {64, 48})));
  EXPECT_TRUE(identical(by_time.back(), clip_frame(17, {64, 48})));
}

TEST_F(FileLoop, PacedAFileTakesItsOwnTime) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), cv::Size(64, 48), 26));
  const std::string config = write("paced.yaml", "source: {type: file, path: clip.mkv, pace: realtime}\n"
                                                 "stages: [{name: copy, ops: [{op: identity}]}]\nsink: {type: \"null\"}\n");
  const RunResult r = run_cvpipe({"run", config});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_written"), 26);
  // 26 frames at 25 fps: the last is read 1 s after the first.
  EXPECT_GE(s["last_frame_ms"].number() - s["first_frame_ms"].number(), 990) << r.out;
  EXPECT_LT(s["last_frame_ms"].number() - s["first_frame_ms"].number(), 2000) << r.out;
}

}  // namespace
}  // namespace cvpipe
