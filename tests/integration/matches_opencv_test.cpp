// cvpipe's ops are OpenCV's functions: the pipeline's output is exactly what OpenCV gives when
// applied to the same decoded frames by hand; and its file source decodes exactly as OpenCV does.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cctype>
#include <string>
#include <vector>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

using EdgePipeline = CvpipeTest;

TEST_F(EdgePipeline, WritesExactlyWhatOpenCvComputesFromTheDecodedClip) {
  constexpr int kFrames = 20;
  ASSERT_TRUE(make_clip(path("clip.mkv"), {320, 240}, kFrames));
  const std::string config = write("pipeline.yaml", R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    workers: 2
    ops:
      - op: gaussian_blur
        ksize: 15
  - name: edges
    workers: 1
    ops:
      - op: grayscale
      - op: canny
        low: 100
        high: 200
sink:
  type: images
  path: out/%04d.png
)");

  const RunResult r = run_cvpipe({"run", config});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::vector<cv::Mat> expected;
  for (const cv::Mat& frame : read_video(path("clip.mkv"))) {
    cv::Mat blurred, gray, edges;
    cv::GaussianBlur(frame, blurred, {15, 15}, 0, 0, cv::BORDER_DEFAULT);
    cv::cvtColor(blurred, gray, cv::COLOR_BGR2GRAY);
    cv::Canny(gray, edges, 100, 200);
    expected.push_back(edges);
  }
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) ASSERT_GT(cv::countNonZero(expected[i]), 100) << "frame " << i << " has no edges";
  EXPECT_EQ(compare_frames(expected, read_images(path("out"))), "");
}

// The file source decodes with FFmpeg's libraries as OpenCV's FFmpeg backend does, byte for byte:
// H.264 whose coded size is not its size (318x178 is coded 320x192), 4:4:4, and MJPEG (full-range
// YUV), each from ffmpeg's test pattern.
class DecodesAsOpenCv : public CvpipeTest, public ::testing::WithParamInterface<std::vector<std::string>> {};

TEST_P(DecodesAsOpenCv, FrameForFrame) {
  const std::vector<std::string>& encode = GetParam();
  const std::string clip = path(encode.back());
  std::vector<std::string> argv = {"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                                   "testsrc2=size=318x178:rate=25", "-frames:v", "12"};
  argv.insert(argv.end(), encode.begin(), encode.end() - 1);
  argv.push_back(clip);
  const RunResult made = run_program(argv);
  ASSERT_EQ(made.exit_code, 0) << describe(made);
  const std::vector<cv::Mat> expected = read_video(clip);
  ASSERT_EQ(expected.size(), 12u);
  const std::string config = write("pipeline.yaml", "source: {type: file, path: " + clip +
                                                        "}\nstages: [{name: s, workers: 2, ops: [{op: identity}]}]\n"
                                                        "sink: {type: images, path: out/%04d.png}\n");

  const RunResult r = run_cvpipe({"run", config});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(compare_frames(expected, read_images(path("out"))), "");
}

INSTANTIATE_TEST_SUITE_P(Codecs, DecodesAsOpenCv,
                         ::testing::Values(std::vector<std::string>{"-c:v", "libx264", "h264.mp4"},
                                           std::vector<std::string>{"-c:v", "libx264", "-pix_fmt", "yuv444p",
                                                                    "h264-444.mkv"},
                                           std::vector<std::string>{"-c:v", "mjpeg", "mjpeg.avi"}),
                         [](const auto& test) {
                           std::string name = test.param.back();
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

// A phone's video: stored 320x240, to be shown turned 90 degrees (MP4's display matrix). It comes
// out turned as FFmpeg shows it (ffmpeg's own decode, players), and the frame size reported before
// any frame is decoded (which sizes the shared memory) is the turned one. OpenCV 4.6 turns it the
// other way (it reads the matrix's angle with the wrong sign; later versions do not).
TEST_F(EdgePipeline, TurnsARotatedVideoAsFFmpegShowsIt) {
  ASSERT_TRUE(make_clip(path("flat.mkv"), {320, 240}, 6));
  // FFmpeg 5.1 keeps the rotate tag when it copies the stream, not when it encodes it.
  const RunResult encoded = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-i", path("flat.mkv"),
                                         "-c:v", "libx264", path("flat.mp4")});
  ASSERT_EQ(encoded.exit_code, 0) << describe(encoded);
  const RunResult turned = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-i", path("flat.mp4"),
                                        "-c", "copy", "-metadata:s:v:0", "rotate=90", path("turned.mp4")});
  ASSERT_EQ(turned.exit_code, 0) << describe(turned);
  // The flat frames as OpenCV decodes them, turned as ffmpeg turns them.
  const RunResult shown = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-i", path("turned.mp4"),
                                       "-frames:v", "1", "-pix_fmt", "bgr24", path("ffmpeg-first.png")});
  ASSERT_EQ(shown.exit_code, 0) << describe(shown);
  const cv::Mat ffmpeg_first = cv::imread(path("ffmpeg-first.png"));
  std::vector<cv::Mat> expected;
  for (const cv::Mat& frame : read_video(path("flat.mp4"))) {
    cv::Mat t;
    cv::rotate(frame, t, cv::ROTATE_90_COUNTERCLOCKWISE);
    expected.push_back(t);
  }
  ASSERT_EQ(expected.size(), 6u);
  ASSERT_TRUE(identical(ffmpeg_first, expected[0])) << "ffmpeg turns it another way than this test expects";
  const std::string config = write("pipeline.yaml", R"(source:
  type: file
  path: turned.mp4
stages:
  - name: copy
    workers: 2
    ops:
      - op: identity
sink:
  type: images
  path: out/%04d.png
)");

  const RunResult r = run_cvpipe({"run", config});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("format=240x320 8UC3"), std::string::npos) << describe(r);
  EXPECT_EQ(compare_frames(expected, read_images(path("out"))), "");
}

}  // namespace
}  // namespace cvpipe
