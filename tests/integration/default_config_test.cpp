// The config a user starts from (config/default.yaml) on the shipped sample clip.
#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kSampleFrames = 200;

using ShippedConfig = CvpipeTest;

TEST_F(ShippedConfig, Validates) {
  const RunResult r = run_cvpipe({"validate", source_path("config/default.yaml")});

  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find(": ok:"), std::string::npos) << describe(r);
}

TEST_F(ShippedConfig, WritesEveryFrameOfTheSample) {
  const std::string video = path("x.mp4");

  const RunResult r = run_cvpipe({"run", source_path("config/default.yaml"), "--set", "sink.path=" + video});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json summary = summary_of(r);
  EXPECT_EQ(summary.integer("frames_read"), kSampleFrames);
  EXPECT_EQ(summary.integer("frames_written"), kSampleFrames);
  EXPECT_EQ(summary.integer("frames_dropped"), 0);
  const std::vector<cv::Mat> frames = read_video(video);
  EXPECT_EQ(frames.size(), static_cast<std::size_t>(kSampleFrames));
  if (!frames.empty()) {
    EXPECT_EQ(frames.front().size(), cv::Size(640, 360));
  }
  // ffmpeg (for ffprobe) is installed by tools/dev with the build dependencies.
  const std::optional<long> counted = ffprobe_frame_count(video);
  ASSERT_TRUE(counted.has_value()) << "ffprobe missing or failed on " << video;
  EXPECT_EQ(*counted, kSampleFrames) << "ffprobe -count_frames " << video;
}

}  // namespace
}  // namespace cvpipe
