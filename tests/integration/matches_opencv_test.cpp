// cvpipe's ops are OpenCV's functions: the pipeline's output is exactly what OpenCV gives when
// applied to the same decoded frames by hand; and its file source decodes exactly as OpenCV does.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cctype>
#include <filesystem>
#include <string>
#include <utility>
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

// A file name as a gtest parameter's name: letters and digits, the rest '_'.
std::string test_name_of(std::string file) {
  for (char& c : file)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return file;
}

// Clips from ffmpeg's test pattern, decoded by cvpipe into out/%04d.png.
class DecodeTest : public CvpipeTest {
 protected:
  // `frames` frames of the pattern at `size` ("WxH"), encoded with `args` into `out`.
  void encode_pattern(const std::string& size, int frames, const std::vector<std::string>& args,
                      const std::string& out) {
    std::vector<std::string> argv = {"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                                     "testsrc2=size=" + size + ":rate=25", "-frames:v", std::to_string(frames)};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(out);
    const RunResult made = run_program(argv);
    ASSERT_EQ(made.exit_code, 0) << describe(made);
  }

  // `clip` through one stage of 2 workers that changes nothing, into out/, with log.level `log`.
  RunResult decode(const std::string& clip, const std::string& log = "info") {
    const std::string config = write("pipeline.yaml", "source: {type: file, path: " + clip +
                                                          "}\nstages: [{name: s, workers: 2, ops: [{op: identity}]}]\n"
                                                          "sink: {type: images, path: out/%04d.png}\nlog: {level: " +
                                                          log + "}\n");
    return run_cvpipe({"run", config});
  }
};

// The file source decodes with FFmpeg's libraries as OpenCV's FFmpeg backend does, byte for byte:
// H.264 whose coded size is not its size (318x178 is coded 320x192), 4:4:4, and MJPEG (full-range
// YUV), each from ffmpeg's test pattern.
class DecodesAsOpenCv : public DecodeTest, public ::testing::WithParamInterface<std::vector<std::string>> {};

TEST_P(DecodesAsOpenCv, FrameForFrame) {
  const std::vector<std::string>& encode = GetParam();
  const std::string clip = path(encode.back());
  ASSERT_NO_FATAL_FAILURE(encode_pattern("318x178", 12, {encode.begin(), encode.end() - 1}, clip));
  const std::vector<cv::Mat> expected = read_video(clip);
  ASSERT_EQ(expected.size(), 12u);

  const RunResult r = decode(clip);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(compare_frames(expected, read_images(path("out"))), "");
}

INSTANTIATE_TEST_SUITE_P(Codecs, DecodesAsOpenCv,
                         ::testing::Values(std::vector<std::string>{"-c:v", "libx264", "h264.mp4"},
                                           std::vector<std::string>{"-c:v", "libx264", "-pix_fmt", "yuv444p",
                                                                    "h264-444.mkv"},
                                           std::vector<std::string>{"-c:v", "mjpeg", "mjpeg.avi"},
                                           std::vector<std::string>{"-c:v", "libx264", "h264.ts"}),
                         [](const auto& test) { return test_name_of(test.param.back()); });

using FileDecode = DecodeTest;

// Where swscale's bytes are known to be the same and within the frame (8-bit 4:2:0, a width that
// is a multiple of 16, no turn), the frames are converted straight into the slots, the coded rows
// below the shown ones left out (320x180 H.264 is coded 320x192); elsewhere at the coded size and
// copied. 360x512 MJPEG (coded at its size; 360 is a multiple of 8, not 16): straight, swscale
// would write 24 bytes past each frame, and a frame fills its slot to the page (135 pages): into
// the next slot, or off the segment. Each comes out as OpenCV decodes it.
TEST_F(FileDecode, ConvertsStraightIntoTheSlotsOnlyWhereTheBytesAreTheSame) {
  struct Case {
    std::string size;
    std::vector<std::string> encode;
    bool straight;
  };
  for (const Case& c : std::vector<Case>{
           {"320x180", {"-c:v", "libx264", "h264-320x180.mp4"}, true},
           {"320x180", {"-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "mjpeg-420.avi"}, true},
           {"318x178", {"-c:v", "libx264", "h264-318x178.mp4"}, false},
           {"324x180", {"-c:v", "libx264", "h264-324x180.mp4"}, false},
           {"360x512", {"-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "mjpeg-360x512.avi"}, false},
           {"320x180", {"-c:v", "libx264", "-pix_fmt", "yuv422p", "h264-422.mkv"}, false}}) {
    const std::string& name = c.encode.back();
    SCOPED_TRACE(name);
    const std::string clip = path(name);
    ASSERT_NO_FATAL_FAILURE(encode_pattern(c.size, 12, {c.encode.begin(), c.encode.end() - 1}, clip));
    const std::vector<cv::Mat> expected = read_video(clip);
    ASSERT_EQ(expected.size(), 12u);
    std::filesystem::remove_all(path("out"));

    const RunResult r = decode(clip, "debug");

    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.err.find("converted to BGR straight into the slots") != std::string::npos, c.straight) << r.err;
    EXPECT_EQ(r.err.find("converted to BGR at the coded size") != std::string::npos, !c.straight) << r.err;
    EXPECT_EQ(compare_frames(expected, read_images(path("out"))), "");
  }
}

// FFmpeg's stream analysis, which decodes the first frames (OpenCV always runs it), is left out
// only where the container's header gives the size, rate and frame count: MP4 and AVI do, MPEG-TS
// and Matroska do not. DecodesAsOpenCv shows that the frames are the same either way.
TEST_F(FileDecode, RunsFFmpegsStreamAnalysisOnlyWhereTheHeaderDoesNotTellAll) {
  for (const auto& [name, analysed] : std::vector<std::pair<std::string, bool>>{
           {"clip.mp4", false}, {"clip.avi", false}, {"clip.ts", true}, {"clip.mkv", true}}) {
    ASSERT_NO_FATAL_FAILURE(encode_pattern("160x120", 5, {"-c:v", "libx264"}, path(name)));

    const RunResult r = decode(path(name), "debug");

    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.err.find("stream analysis ran") != std::string::npos, analysed) << name << "\n" << r.err;
    EXPECT_EQ(r.err.find("no stream analysis") != std::string::npos, !analysed) << name << "\n" << r.err;
  }
}

// Where the stream reorders frames (B-frames), the decoder hands out its first frame only after
// several more packets; the first frame is then decoded alone, where its packet is a key frame
// shown before every packet after it. Each case comes out as OpenCV decodes it, whichever way.
struct FirstFrameCase {
  std::string name;
  std::vector<std::string> encode;  // ffmpeg's arguments after the test pattern
  std::vector<std::string> cut;     // then, if any: ffmpeg's arguments to copy part of it
  bool alone;
};

class FirstFrame : public DecodeTest, public ::testing::WithParamInterface<FirstFrameCase> {};

TEST_P(FirstFrame, IsDecodedAloneOnlyWhereItIsShownFirstAndComesOutAsOpenCvDecodesIt) {
  const FirstFrameCase& c = GetParam();
  const std::string clip = path(c.name);
  const std::string whole = c.cut.empty() ? clip : path("whole.mkv");
  ASSERT_NO_FATAL_FAILURE(encode_pattern("160x120", 40, c.encode, whole));
  if (!c.cut.empty()) {
    std::vector<std::string> cut = {"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error"};
    cut.insert(cut.end(), c.cut.begin(), c.cut.end());
    cut.insert(cut.end(), {"-i", whole, "-c", "copy", clip});
    const RunResult copied = run_program(cut);
    ASSERT_EQ(copied.exit_code, 0) << describe(copied);
  }
  const std::vector<cv::Mat> expected = read_video(clip);
  ASSERT_GT(expected.size(), 10u);

  const RunResult r = decode(clip, "debug");

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.err.find("first frame decoded alone") != std::string::npos, c.alone) << r.err;
  EXPECT_EQ(compare_frames(expected, read_images(path("out"))), "");
}

INSTANTIATE_TEST_SUITE_P(
    Streams, FirstFrame,
    ::testing::Values(
        // B-frames (libx264's default): the first packet is shown first.
        FirstFrameCase{"bframes.mp4", {"-c:v", "libx264"}, {}, true},
        // No reordering; the frame-threaded decoder still waits for a second packet.
        FirstFrameCase{"no-bframes.mp4", {"-c:v", "libx264", "-bf", "0"}, {}, true},
        // An open GOP copied from its second key frame: the packets after it show before it.
        FirstFrameCase{"open-gop.mp4",
                       {"-c:v", "libx264", "-x264-params", "open-gop=1:keyint=20:min-keyint=20:scenecut=0"},
                       {"-ss", "1.0"},
                       false},
        // AVI has no presentation times to tell the order by.
        FirstFrameCase{"bframes.avi", {"-c:v", "libx264"}, {}, false},
        // An intra-only codec shows each frame as it decodes it.
        FirstFrameCase{"mjpeg.avi", {"-c:v", "mjpeg"}, {}, false}),
    [](const auto& test) { return test_name_of(test.param.name); });

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
