// The synthetic source: exactly `frames` frames, the same pixels in every run, paced or not.
#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

using SyntheticSource = CvpipeTest;

constexpr int kFrames = 24;
constexpr int kFps = 100;

std::string synthetic_config(const std::string& pace) {
  return R"(source:
  type: synthetic
  width: 160
  height: 120
  fps: )" + std::to_string(kFps) + R"(
  frames: )" + std::to_string(kFrames) + R"(
  pace: )" + pace + (pace == "realtime" ? R"(
  buffer: 100          # paced: no frame may be missed by the source)" : "") + R"(
  drop_policy: block   # nor dropped, for the frames to match
stages:
  - name: blur
    workers: 2
    drop_policy: block
    ops:
      - op: median_blur
        ksize: 3
sink:
  type: images
  path: out/%03d.png
)";
}

TEST_F(SyntheticSource, GivesTheSameFramesAtMaxAndRealtimePace) {
  const std::string fast = write("fast.yaml", synthetic_config("max"));
  const std::string paced = write("paced.yaml", synthetic_config("realtime"));

  const RunResult fast_run = run_cvpipe({"run", fast, "--set", "sink.path=" + path("fast/%03d.png")});
  const RunResult paced_run = run_cvpipe({"run", paced, "--set", "sink.path=" + path("paced/%03d.png")});

  ASSERT_EQ(fast_run.exit_code, 0) << describe(fast_run);
  ASSERT_EQ(paced_run.exit_code, 0) << describe(paced_run);
  for (const RunResult* r : {&fast_run, &paced_run}) {
    const Json summary = summary_of(*r);
    EXPECT_EQ(summary.integer("frames_read"), kFrames) << r->command;
    EXPECT_EQ(summary.integer("frames_written"), kFrames) << r->command;
    EXPECT_EQ(summary.integer("frames_dropped"), 0) << r->command;
  }
  // Paced, the last frame cannot be read before (frames - 1) / fps seconds.
  EXPECT_GE(summary_of(paced_run)["wall_seconds"].number(), (kFrames - 1) / static_cast<double>(kFps));

  const std::vector<cv::Mat> fast_frames = read_images(path("fast"));
  const std::vector<cv::Mat> paced_frames = read_images(path("paced"));
  ASSERT_EQ(fast_frames.size(), static_cast<std::size_t>(kFrames));
  EXPECT_EQ(fast_frames.front().size(), cv::Size(160, 120));
  EXPECT_EQ(fast_frames.front().type(), CV_8UC3);
  for (int i = 0; i + 1 < kFrames; ++i) ASSERT_FALSE(identical(fast_frames[i], fast_frames[i + 1])) << "frames " << i;
  EXPECT_EQ(compare_frames(fast_frames, paced_frames), "");
}

TEST_F(SyntheticSource, GivesTheSameFramesInEveryRun) {
  const std::string config = write("pipeline.yaml", synthetic_config("max"));

  const RunResult first = run_cvpipe({"run", config, "--set", "sink.path=" + path("first/%03d.png")});
  const RunResult second = run_cvpipe({"run", config, "--set", "sink.path=" + path("second/%03d.png"), "--set",
                                       "stages.blur.workers=1"});

  ASSERT_EQ(first.exit_code, 0) << describe(first);
  ASSERT_EQ(second.exit_code, 0) << describe(second);
  const std::vector<cv::Mat> first_frames = read_images(path("first"));
  ASSERT_EQ(first_frames.size(), static_cast<std::size_t>(kFrames));
  EXPECT_EQ(compare_frames(first_frames, read_images(path("second"))), "");
}

}  // namespace
}  // namespace cvpipe
