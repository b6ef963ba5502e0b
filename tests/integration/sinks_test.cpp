// The sinks as a user sees them: a video holds every frame, in order, at the source's size.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kFrames = 30;
const cv::Size kSize(240, 160);

struct VideoCase {
  const char* name;
  const char* file;
  const char* fourcc;
};

// gtest prints the case in test names (ctest lists them) by its name rather than its bytes.
void PrintTo(const VideoCase& c, std::ostream* os) { *os << c.name; }

class VideoSink : public CvpipeTest, public ::testing::WithParamInterface<VideoCase> {};

// What the test's chain does to frame i: blur it (the annotate op's text is small and is left to
// the tolerance of the comparison).
cv::Mat blurred_clip_frame(int i) {
  cv::Mat out;
  cv::GaussianBlur(clip_frame(i, kSize), out, {3, 3}, 0, 0, cv::BORDER_DEFAULT);
  return out;
}

TEST_P(VideoSink, WritesEveryFrameInOrder) {
  const VideoCase& c = GetParam();
  ASSERT_TRUE(make_clip(path("clip.mkv"), kSize, kFrames));
  const std::string config = write("pipeline.yaml", std::string(R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    workers: 2
    ops:
      - op: gaussian_blur
        ksize: 3
  - name: label
    ops:
      - op: annotate
        scale: 0.4
        thickness: 1
sink:
  type: video
  path: out/)") + c.file + "\n  fourcc: " + c.fourcc + "\n");

  const RunResult r = run_cvpipe({"run", config});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json summary = summary_of(r);
  EXPECT_EQ(summary.integer("frames_read"), kFrames);
  EXPECT_EQ(summary.integer("frames_written"), kFrames);
  EXPECT_EQ(summary.integer("frames_dropped"), 0);
  EXPECT_EQ(summary.integer("exit_code"), 0);

  const std::string video = path(std::string("out/") + c.file);
  const std::vector<cv::Mat> frames = read_video(video);
  ASSERT_EQ(frames.size(), static_cast<std::size_t>(kFrames)) << "decoding " << video;
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_EQ(frames[i].size(), kSize) << "frame " << i;
    ASSERT_EQ(frames[i].type(), CV_8UC3) << "frame " << i;
    // Lossy (the clip's noise costs these codecs about 25 dB), so no exact match; but frame i must
    // look like input frame i (neighbours score about 17 dB) and less like its neighbours, which
    // shows the order.
    const double here = cv::PSNR(frames[i], blurred_clip_frame(i));
    EXPECT_GT(here, 21.0) << "frame " << i << " does not look like input frame " << i;
    if (i > 0) {
      EXPECT_GT(here, cv::PSNR(frames[i], blurred_clip_frame(i - 1))) << "frame " << i;
    }
    if (i + 1 < kFrames) {
      EXPECT_GT(here, cv::PSNR(frames[i], blurred_clip_frame(i + 1))) << "frame " << i;
    }
  }
  // ffmpeg (for ffprobe) is installed by tools/dev with the build dependencies.
  const std::optional<long> counted = ffprobe_frame_count(video);
  ASSERT_TRUE(counted.has_value()) << "ffprobe missing or failed on " << video;
  EXPECT_EQ(*counted, kFrames) << "ffprobe -count_frames " << video;
}

INSTANTIATE_TEST_SUITE_P(Codecs, VideoSink,
                         ::testing::Values(VideoCase{"Mp4vInMp4", "result.mp4", "mp4v"},
                                           VideoCase{"MjpgInAvi", "result.avi", "MJPG"}),
                         [](const ::testing::TestParamInfo<VideoCase>& p) { return std::string(p.param.name); });

using VideoSinkOfGrayFrames = CvpipeTest;

TEST_F(VideoSinkOfGrayFrames, WritesThemAsBgrWithoutLoss) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), kSize, 12));
  const std::string config = write("pipeline.yaml", R"(source:
  type: file
  path: clip.mkv
stages:
  - name: gray
    workers: 2
    ops:
      - op: grayscale
sink:
  type: video
  path: out/gray.mkv
  fourcc: FFV1
)");

  const RunResult r = run_cvpipe({"run", config});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::vector<cv::Mat> expected;
  for (const cv::Mat& in : read_video(path("clip.mkv"))) {
    cv::Mat gray, bgr;
    cv::cvtColor(in, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
    expected.push_back(bgr);
  }
  ASSERT_EQ(expected.size(), 12u);
  EXPECT_EQ(compare_frames(expected, read_video(path("out/gray.mkv"))), "");
}

using VideoSinkOfTinyFrames = CvpipeTest;

// The sink crops odd sizes to even ones, so a side of 1 pixel would leave nothing to encode: a
// config error, found by validate, rather than exit 73 when the writer opens.
TEST_F(VideoSinkOfTinyFrames, FramesNarrowerOrLowerThanTwoPixelsAreAConfigError) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), kSize, 3));
  for (const auto& [width, height] : {std::pair{1, 1}, std::pair{1, 100}, std::pair{100, 1}}) {
    const std::string size = std::to_string(width) + "x" + std::to_string(height);
    const std::string config = write("pipeline.yaml", R"(source: {type: file, path: clip.mkv}
stages: [{name: a, ops: [{op: resize, width: )" + std::to_string(width) + ", height: " + std::to_string(height) +
                                                          R"(}]}]
sink: {type: video, path: out/x.mp4}
)");
    for (const char* command : {"validate", "run"}) {
      const RunResult r = run_cvpipe({command, config});
      EXPECT_EQ(r.exit_code, 78) << size << " " << describe(r);
      EXPECT_NE(r.err.find("pipeline.yaml:3:7: sink: video needs frames of at least 2x2 pixels (odd sizes are "
                           "cropped to even ones), the pipeline produces " + size + " 8UC3"),
                std::string::npos)
          << size << " " << describe(r);
    }
    EXPECT_FALSE(exists(path("out"))) << size;
  }
  // 2x2 is the smallest that works.
  const std::string config = write("pipeline.yaml", R"(source: {type: file, path: clip.mkv}
stages: [{name: a, ops: [{op: resize, width: 2, height: 2}]}]
sink: {type: video, path: out/x.mp4}
)");
  const RunResult r = run_cvpipe({"run", config});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(summary_of(r).integer("frames_written"), 3);
}

using NullSink = CvpipeTest;

// sink.type "null" is documented unquoted (pipeline/sinks/null_sink.cpp: `type: null`), which YAML
// reads as a null value rather than the word.
TEST_F(NullSink, AcceptsTypeNullWrittenAsDocumented) {
  const std::string config = write("pipeline.yaml", R"(source:
  type: synthetic
  width: 160
  height: 120
  frames: 40
stages:
  - name: blur
    ops:
      - op: gaussian_blur
sink:
  type: null
)");

  const RunResult r = run_cvpipe({"run", config});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(summary_of(r).integer("frames_written"), 40);
}

TEST_F(NullSink, CountsEveryFrameOfALongerRun) {
  const std::string config = write("pipeline.yaml", R"(source:
  type: synthetic
  width: 64
  height: 48
  frames: 500
stages:
  - name: blur
    workers: 2
    ops:
      - op: gaussian_blur
sink:
  type: "null"
)");

  const RunResult r = run_cvpipe({"run", config});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json summary = summary_of(r);
  EXPECT_EQ(summary.integer("frames_read"), 500);
  EXPECT_EQ(summary.integer("frames_written"), 500);
  EXPECT_EQ(summary.integer("frames_dropped"), 0);
  EXPECT_EQ(stage_in(summary, "blur").integer("frames_processed"), 500);
}

using ImagesSink = CvpipeTest;

std::string images_config(const std::string& pattern) {
  return "source: {type: synthetic, width: 32, height: 24, frames: 3}\nstages: [{name: a, ops: [{op: identity}]}]\n"
         "sink: {type: images, path: \"" + pattern + "\"}\n";
}

TEST_F(ImagesSink, NamesFilesByThePatternAsPrintfWould) {
  const RunResult r = run_cvpipe({"run", write("i.yaml", images_config("out/100%%_%03d.png"))});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(list_dir(path("out")), (std::vector<std::string>{"100%_000.png", "100%_001.png", "100%_002.png"}));
  EXPECT_EQ(cv::imread(path("out/100%_002.png")).size(), cv::Size(32, 24));
}

TEST_F(ImagesSink, AnyOtherConversionIsAConfigErrorAtThePath) {
  const RunResult r = run_cvpipe({"validate", write("i.yaml", images_config("out/%s-%04d.png"))});

  EXPECT_EQ(r.exit_code, 78) << describe(r);
  EXPECT_NE(r.err.find("i.yaml:3:28: sink.path: expected %d, %6d or %06d (and %% for a literal %) where the "
                       "pattern has \"%s\""),
            std::string::npos)
      << describe(r);
}

// Each image format takes its own kinds of image: one that cannot take the chain's frames is a
// config error, found by validate, not an OpenCV assertion at the first frame (exit 73).
TEST_F(ImagesSink, AFormatThatCannotHoldTheFramesIsAConfigError) {
  const std::string colour = "source: {type: synthetic, width: 32, height: 24, frames: 3}\n"
                             "stages: [{name: a, ops: [{op: identity}]}]\n";
  const std::string gray = "source: {type: synthetic, width: 32, height: 24, frames: 3}\n"
                           "stages: [{name: a, ops: [{op: grayscale}]}]\n";
  const struct {
    std::string stages, extension, frames;
  } refused[] = {{colour, "exr", "8UC3"}, {gray, "exr", "8UC1"}, {gray, "ppm", "8UC1"}, {colour, "pgm", "8UC3"}};
  for (const auto& c : refused) {
    SCOPED_TRACE(c.extension + " " + c.frames);
    const std::string config = write("i.yaml", c.stages + "sink: {type: images, path: \"out/%03d." + c.extension + "\"}\n");
    for (const char* verb : {"validate", "run"}) {
      const RunResult r = run_cvpipe({verb, config});
      EXPECT_EQ(r.exit_code, 78) << describe(r);
      EXPECT_NE(r.err.find("i.yaml:3:7: sink: images cannot write 32x24 " + c.frames + " frames as ." + c.extension +
                           " images (OpenCV: "),
                std::string::npos)
          << describe(r);
    }
    EXPECT_FALSE(std::filesystem::exists(path("out"))) << "nothing is written";
  }
  // The same formats with the frames they take.
  for (const auto& [stages, extension] : {std::pair{colour, "ppm"}, std::pair{gray, "pgm"}}) {
    std::filesystem::remove_all(path("out"));
    const RunResult r =
        run_cvpipe({"run", write("i.yaml", stages + "sink: {type: images, path: \"out/%03d." + extension + "\"}\n")});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(list_dir(path("out")).size(), 3u) << extension;
  }
}

}  // namespace
}  // namespace cvpipe
