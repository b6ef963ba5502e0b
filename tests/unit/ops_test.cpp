// Each op against OpenCV called directly with the same parameters (bit for bit), and each op's
// parameter checks. The contract every op shares is in op_conformance_test.cpp.
#include <gtest/gtest.h>
#include <time.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <sstream>
#include <string>
#include <utility>

#include "tests/unit/op_test_util.hpp"

namespace cvpipe {
namespace {

using test::format_of;
using test::parse_op;
using test::run_op;
using test::same_pixels;
using test::test_frame;

const cv::Mat kColor = test_frame(96, 64, CV_8UC3, 3);
const cv::Mat kGray = test_frame(96, 64, CV_8UC1, 4);

// Expects exactly one error, at line:column, whose message contains every one of `words`.
void expect_one_error(const std::string& yaml, int line, int column,
                      std::initializer_list<std::string_view> words) {
  SCOPED_TRACE(yaml);
  const auto parsed = parse_op(yaml);
  EXPECT_FALSE(parsed.spec);
  ASSERT_EQ(parsed.errors.size(), 1u) << parsed.errors_text();
  const ConfigError& e = parsed.errors[0];
  EXPECT_EQ(e.line, line) << e.to_string();
  EXPECT_EQ(e.column, column) << e.to_string();
  for (auto w : words) EXPECT_NE(e.message.find(w), std::string::npos) << "no \"" << w << "\" in: " << e.to_string();
}

TEST(OpRegistry, ListsEveryBuiltInOp) {
  for (const char* name : {"identity", "grayscale", "resize", "gaussian_blur", "median_blur", "bilateral",
                           "canny", "sobel", "threshold", "annotate"}) {
    const OpInfo* info = OpRegistry::instance().find(name);
    ASSERT_TRUE(info) << name;
    EXPECT_FALSE(info->hidden) << name;
  }
}

TEST(OpParse, UnknownKeySuggestsTheOpsOwnKey) {
  expect_one_error("- op: canny\n  hihg: 10", 2, 3, {"unknown key", "\"high\""});
}

// identity

TEST(IdentityOp, LeavesTheFrameUnchangedInPlace) {
  const auto parsed = parse_op("- op: identity");
  ASSERT_TRUE(parsed.spec) << parsed.errors_text();
  EXPECT_TRUE(parsed.spec->in_place);
  EXPECT_TRUE(same_pixels(run_op(*parsed.spec, kColor), kColor));
  EXPECT_TRUE(same_pixels(run_op(*parsed.spec, kGray), kGray));
}

// grayscale

TEST(GrayscaleOp, MatchesOpenCvOnColor) {
  cv::Mat expected;
  cv::cvtColor(kColor, expected, cv::COLOR_BGR2GRAY);
  EXPECT_TRUE(same_pixels(run_op("- op: grayscale", kColor), expected));
}

TEST(GrayscaleOp, CopiesOneChannelInput) {
  EXPECT_TRUE(same_pixels(run_op("- op: grayscale", kGray), kGray));
}

// resize

// resize's interpolation names and OpenCV's flags.
const std::pair<const char*, int> kInterpolations[] = {{"nearest", cv::INTER_NEAREST}, {"linear", cv::INTER_LINEAR},
                                                       {"area", cv::INTER_AREA},       {"cubic", cv::INTER_CUBIC},
                                                       {"lanczos4", cv::INTER_LANCZOS4}};

TEST(ResizeOp, MatchesOpenCvForEveryInterpolation) {
  for (const auto& [name, interp] : kInterpolations) {
    for (const cv::Size size : {cv::Size(40, 30), cv::Size(150, 101)}) {
      SCOPED_TRACE(std::string(name) + " " + std::to_string(size.width));
      const std::string yaml = "- op: resize\n  width: " + std::to_string(size.width) +
                               "\n  height: " + std::to_string(size.height) + "\n  interpolation: " + name;
      for (const cv::Mat& in : {kColor, kGray}) {
        cv::Mat expected;
        cv::resize(in, expected, size, 0, 0, interp);
        EXPECT_TRUE(same_pixels(run_op(yaml, in), expected));
      }
    }
  }
}

TEST(ResizeOp, DefaultsToAreaInterpolation) {
  cv::Mat expected;
  cv::resize(kColor, expected, {40, 30}, 0, 0, cv::INTER_AREA);
  EXPECT_TRUE(same_pixels(run_op("- op: resize\n  width: 40\n  height: 30", kColor), expected));
}

TEST(ResizeOp, ScaleSizesEachSideAsOpenCvDoes) {
  // saturate_cast<int>: to nearest, halves to even (16.5 -> 16, 8.5 -> 8; 49.5 -> 50).
  const auto half = test::format_of("- op: resize\n  scale: 0.5", {33, 17, CV_8UC3});
  ASSERT_TRUE(half);
  EXPECT_EQ(half->format, (FrameFormat{16, 8, CV_8UC3})) << half->format.describe();
  const auto odd = test::format_of("- op: resize\n  scale: 1.5", {33, 17, CV_8UC3});
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->format, (FrameFormat{50, 26, CV_8UC3})) << odd->format.describe();
}

TEST(ResizeOp, AScaleThatLeavesNoPixelsIsAnError) {
  const auto tiny = test::format_of("- op: resize\n  scale: 0.001", {33, 17, CV_8UC1});
  ASSERT_TRUE(tiny);
  EXPECT_NE(tiny->error.find("resize by scale 0.001 makes 33x17 8UC1 0x0: no pixels left on a side"),
            std::string::npos)
      << tiny->error;
}

// The factor maps the pixels, not the rounded size: on odd sides the two differ.
TEST(ResizeOp, ScaleMatchesOpenCvGivenTheFactor) {
  cv::Mat odd_color, odd_gray;
  cv::resize(kColor, odd_color, {97, 61});
  cv::resize(kGray, odd_gray, {97, 61});
  for (const auto& [name, interp] : kInterpolations) {
    for (const double scale : {0.3, 0.5, 1.5, 1.7}) {
      SCOPED_TRACE(std::string(name) + " x" + std::to_string(scale));
      std::ostringstream yaml;
      yaml << "- op: resize\n  scale: " << scale << "\n  interpolation: " << name;
      for (const cv::Mat& in : {odd_color, odd_gray}) {
        cv::Mat expected;
        cv::resize(in, expected, cv::Size(), scale, scale, interp);
        EXPECT_TRUE(same_pixels(run_op(yaml.str(), in), expected));
      }
    }
  }
}

TEST(ResizeOp, RejectsAScaleThatMakesAHugeFrame) {
  const auto f = test::format_of("- op: resize\n  scale: 1000", {640, 480, CV_8UC3});
  ASSERT_TRUE(f);
  EXPECT_NE(f->error.find("640x480 8UC3"), std::string::npos) << f->error;
}

TEST(ResizeOp, RejectsBothForms) {
  expect_one_error("- op: resize\n  width: 10\n  height: 10\n  scale: 0.5", 4, 10, {"width", "height", "scale"});
}

TEST(ResizeOp, RejectsNeitherForm) {
  expect_one_error("- op: resize\n  interpolation: cubic", 1, 3, {"width", "height", "scale"});
}

TEST(ResizeOp, RejectsWidthWithoutHeight) {
  expect_one_error("- op: resize\n  width: 10", 1, 3, {"height"});
}

TEST(ResizeOp, RejectsZeroScale) { expect_one_error("- op: resize\n  scale: 0", 2, 10, {"> 0", "got 0"}); }

TEST(ResizeOp, RejectsZeroWidth) {
  expect_one_error("- op: resize\n  width: 0\n  height: 10", 2, 10, {"[1, 65536]", "got 0"});
}

TEST(ResizeOp, RejectsAnUnknownInterpolationWithASuggestion) {
  expect_one_error("- op: resize\n  scale: 2\n  interpolation: cubik", 3, 18, {"did you mean \"cubic\""});
}

// gaussian_blur

TEST(GaussianBlurOp, MatchesOpenCv) {
  for (const cv::Mat& in : {kColor, kGray}) {
    cv::Mat expected;
    cv::GaussianBlur(in, expected, {7, 7}, 1.5, 1.5, cv::BORDER_DEFAULT);
    EXPECT_TRUE(same_pixels(run_op("- op: gaussian_blur\n  ksize: 7\n  sigma: 1.5", in), expected));
  }
}

TEST(GaussianBlurOp, DefaultsToKsize5WithDerivedSigma) {
  cv::Mat expected;
  cv::GaussianBlur(kColor, expected, {5, 5}, 0, 0, cv::BORDER_DEFAULT);
  EXPECT_TRUE(same_pixels(run_op("- op: gaussian_blur", kColor), expected));
}

TEST(GaussianBlurOp, RejectsAnEvenKsizeAtItsValue) {
  expect_one_error("- op: gaussian_blur\n  ksize: 4", 2, 10, {"odd", "got 4"});
}

TEST(GaussianBlurOp, RejectsANegativeSigma) {
  expect_one_error("- op: gaussian_blur\n  sigma: -1", 2, 10, {">= 0", "got -1"});
}

// median_blur

TEST(MedianBlurOp, MatchesOpenCvForSmallAndLargeKernels) {
  for (const int ksize : {3, 5, 7, 31}) {
    SCOPED_TRACE(ksize);
    for (const cv::Mat& in : {kColor, kGray}) {
      cv::Mat expected;
      cv::medianBlur(in, expected, ksize);
      EXPECT_TRUE(same_pixels(run_op("- op: median_blur\n  ksize: " + std::to_string(ksize), in), expected));
    }
  }
}

TEST(MedianBlurOp, RejectsKsizeOne) {
  expect_one_error("- op: median_blur\n  ksize: 1", 2, 10, {"[3, 255]", "got 1"});
}

TEST(MedianBlurOp, RejectsAnEvenKsize) { expect_one_error("- op: median_blur\n  ksize: 6", 2, 10, {"odd"}); }

// bilateral

TEST(BilateralOp, MatchesOpenCv) {
  for (const cv::Mat& in : {kColor, kGray}) {
    cv::Mat expected;
    cv::bilateralFilter(in, expected, 5, 30, 10, cv::BORDER_DEFAULT);
    EXPECT_TRUE(
        same_pixels(run_op("- op: bilateral\n  d: 5\n  sigma_color: 30\n  sigma_space: 10", in), expected));
  }
}

TEST(BilateralOp, DefaultsMatchOpenCv) {
  cv::Mat expected;
  cv::bilateralFilter(kColor, expected, 9, 75, 75, cv::BORDER_DEFAULT);
  EXPECT_TRUE(same_pixels(run_op("- op: bilateral", kColor), expected));
}

TEST(BilateralOp, IsNotInPlace) {
  const auto parsed = parse_op("- op: bilateral");
  ASSERT_TRUE(parsed.spec) << parsed.errors_text();
  EXPECT_FALSE(parsed.spec->in_place);  // OpenCV asserts src.data != dst.data
}

TEST(BilateralOp, RejectsZeroSigmaColor) {
  expect_one_error("- op: bilateral\n  sigma_color: 0", 2, 16, {"> 0", "got 0"});
}

TEST(BilateralOp, RejectsDiameterOutOfRange) {
  expect_one_error("- op: bilateral\n  d: 0", 2, 6, {"[1, 50]"});
  expect_one_error("- op: bilateral\n  d: 51", 2, 6, {"[1, 50]"});
}

// canny

TEST(CannyOp, MatchesOpenCv) {
  cv::Mat expected;
  cv::Canny(kGray, expected, 50, 150, 5, true);
  EXPECT_TRUE(same_pixels(
      run_op("- op: canny\n  low: 50\n  high: 150\n  aperture: 5\n  l2_gradient: true", kGray), expected));
}

TEST(CannyOp, DefaultsMatchOpenCv) {
  cv::Mat expected;
  cv::Canny(kGray, expected, 100, 200, 3, false);
  EXPECT_TRUE(same_pixels(run_op("- op: canny", kGray), expected));
}

TEST(CannyOp, RejectsColorInputSuggestingGrayscale) {
  const auto f = test::format_of("- op: canny", {640, 480, CV_8UC3});
  ASSERT_TRUE(f);
  EXPECT_NE(f->error.find("grayscale"), std::string::npos) << f->error;
  EXPECT_NE(f->error.find("640x480 8UC3"), std::string::npos) << f->error;
}

TEST(CannyOp, RejectsHighBelowLow) {
  expect_one_error("- op: canny\n  low: 100\n  high: 50", 3, 9, {"low (100)", "got 50"});
}

TEST(CannyOp, RejectsAnApertureOtherThan3Or5Or7) {
  expect_one_error("- op: canny\n  aperture: 4", 2, 13, {"odd"});
  expect_one_error("- op: canny\n  aperture: 9", 2, 13, {"[3, 7]"});
}

// sobel

TEST(SobelOp, MatchesOpenCvForEachOrderAndKernel) {
  struct Case { int dx, dy, ksize; double scale, delta; };
  for (const Case c : {Case{1, 0, 3, 1, 0}, Case{0, 1, 3, 1, 0}, Case{2, 0, 5, 0.25, 10}, Case{1, 1, 1, 1, 0},
                       Case{0, 2, 7, 0.01, 128}, Case{2, 2, 3, 1, 0}}) {
    SCOPED_TRACE(std::to_string(c.dx) + "," + std::to_string(c.dy) + " k" + std::to_string(c.ksize));
    const std::string yaml = "- op: sobel\n  dx: " + std::to_string(c.dx) + "\n  dy: " + std::to_string(c.dy) +
                             "\n  ksize: " + std::to_string(c.ksize) + "\n  scale: " + std::to_string(c.scale) +
                             "\n  delta: " + std::to_string(c.delta);
    for (const cv::Mat& in : {kColor, kGray}) {
      cv::Mat expected;
      cv::Sobel(in, expected, CV_8U, c.dx, c.dy, c.ksize, c.scale, c.delta, cv::BORDER_DEFAULT);
      EXPECT_TRUE(same_pixels(run_op(yaml, in), expected));
    }
  }
}

TEST(SobelOp, SaturatesNegativeGradientsToZero) {
  cv::Mat falling(16, 16, CV_8UC1);
  for (int x = 0; x < 16; ++x) falling.col(x).setTo(255 - 10 * x);
  const cv::Mat out = run_op("- op: sobel", falling);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(cv::countNonZero(out), 0);
}

TEST(SobelOp, RejectsBothOrdersZero) {
  expect_one_error("- op: sobel\n  dx: 0\n  dy: 0", 2, 7, {"dx", "dy"});
}

TEST(SobelOp, RejectsKsizeNine) { expect_one_error("- op: sobel\n  ksize: 9", 2, 10, {"[1, 7]"}); }

// threshold

TEST(ThresholdOp, MatchesOpenCvInPlaceForEveryType) {
  const std::pair<const char*, int> types[] = {{"binary", cv::THRESH_BINARY},
                                               {"binary_inv", cv::THRESH_BINARY_INV},
                                               {"trunc", cv::THRESH_TRUNC},
                                               {"tozero", cv::THRESH_TOZERO},
                                               {"tozero_inv", cv::THRESH_TOZERO_INV}};
  for (const auto& [name, type] : types) {
    // 0 and 255 take OpenCV's constant-result and copy shortcuts; 99.5 is floored.
    for (const double thresh : {0.0, 99.5, 127.0, 255.0}) {
      for (const double max_value : {255.0, 100.0}) {
        SCOPED_TRACE(std::string(name) + " " + std::to_string(thresh) + " " + std::to_string(max_value));
        const std::string yaml = "- op: threshold\n  type: " + std::string(name) + "\n  thresh: " +
                                 std::to_string(thresh) + "\n  max_value: " + std::to_string(max_value);
        for (const cv::Mat& in : {kColor, kGray}) {
          cv::Mat expected;
          cv::threshold(in, expected, thresh, max_value, type);
          EXPECT_TRUE(same_pixels(run_op(yaml, in), expected));
        }
      }
    }
  }
}

TEST(ThresholdOp, OtsuMatchesOpenCvInPlace) {
  for (const char* type : {"binary", "trunc", "tozero_inv"}) {
    SCOPED_TRACE(type);
    cv::Mat expected;
    const int cv_type = std::string(type) == "binary" ? cv::THRESH_BINARY
                        : std::string(type) == "trunc" ? cv::THRESH_TRUNC
                                                        : cv::THRESH_TOZERO_INV;
    cv::threshold(kGray, expected, 0, 200, cv_type | cv::THRESH_OTSU);
    EXPECT_TRUE(same_pixels(
        run_op("- op: threshold\n  otsu: true\n  max_value: 200\n  type: " + std::string(type), kGray), expected));
  }
}

TEST(ThresholdOp, IsInPlace) {
  const auto parsed = parse_op("- op: threshold");
  ASSERT_TRUE(parsed.spec) << parsed.errors_text();
  EXPECT_TRUE(parsed.spec->in_place);
}

TEST(ThresholdOp, OtsuRejectsColorInput) {
  const auto f = test::format_of("- op: threshold\n  otsu: true", {640, 480, CV_8UC3});
  ASSERT_TRUE(f);
  EXPECT_NE(f->error.find("otsu"), std::string::npos) << f->error;
  EXPECT_NE(f->error.find("640x480 8UC3"), std::string::npos) << f->error;
  const auto gray = test::format_of("- op: threshold\n  otsu: true", {640, 480, CV_8UC1});
  ASSERT_TRUE(gray);
  EXPECT_EQ(gray->error, "");
}

TEST(ThresholdOp, RejectsAThresholdAbove255) {
  expect_one_error("- op: threshold\n  thresh: 256", 2, 11, {"[0, 255]", "got 256"});
}

TEST(ThresholdOp, RejectsAnUnknownTypeWithASuggestion) {
  expect_one_error("- op: threshold\n  type: binary_invv", 2, 9, {"did you mean \"binary_inv\""});
}

// annotate

TEST(AnnotateOp, DrawsSeqAndMediaTimeLikePutText) {
  const FrameMeta meta{42, 1'234'567'890, 5};  // 1234.567890 s = 00:20:34.567
  for (const cv::Mat& in : {kColor, kGray}) {
    cv::Mat expected = in.clone();
    cv::putText(expected, "#42  00:20:34.567", {20, 40}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 255, 255), 3,
                cv::LINE_AA);
    ASSERT_FALSE(same_pixels(expected, in));
    EXPECT_TRUE(same_pixels(
        run_op("- op: annotate\n  scale: 0.5\n  thickness: 3\n  color: [0, 255, 255]\n  x: 20\n  y: 40", in, meta),
        expected));
  }
}

TEST(AnnotateOp, DefaultsMatchPutText) {
  const FrameMeta meta{7, 3'723'004'000, 0};  // 1 h 2 min 3.004 s
  cv::Mat expected = kColor.clone();
  cv::putText(expected, "#7  01:02:03.004", {10, 30}, cv::FONT_HERSHEY_SIMPLEX, 1.0, cv::Scalar(255, 255, 255), 2,
              cv::LINE_AA);
  EXPECT_TRUE(same_pixels(run_op("- op: annotate", kColor, meta), expected));
}

// clock: capture draws the wall-clock time of day (UTC) at which the frame was captured:
// capture_ns is CLOCK_MONOTONIC, so the test picks one that falls mid-millisecond on the wall clock
// at 09:31:00.123 UTC on some day, and expects that.
TEST(AnnotateOp, WithTheCaptureClockDrawsTheWallClockTimeOfCapture) {
  timespec real{}, mono{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  const std::int64_t offset_ns =
      (std::int64_t{real.tv_sec} - mono.tv_sec) * 1'000'000'000 + (real.tv_nsec - mono.tv_nsec);
  const std::int64_t wall_ns = (std::int64_t{real.tv_sec} / 86'400 * 86'400 + 9 * 3600 + 31 * 60) * 1'000'000'000 +
                               123'500'000;  // 09:31:00.1235 UTC today
  const FrameMeta meta{12, 3'723'004'000, wall_ns - offset_ns};
  cv::Mat expected = kColor.clone();
  cv::putText(expected, "#12  09:31:00.123", {10, 30}, cv::FONT_HERSHEY_SIMPLEX, 1.0, cv::Scalar(255, 255, 255), 2,
              cv::LINE_AA);
  EXPECT_TRUE(same_pixels(run_op("- op: annotate\n  clock: capture", kColor, meta), expected));
  // The default stays media time.
  cv::Mat media = kColor.clone();
  cv::putText(media, "#12  01:02:03.004", {10, 30}, cv::FONT_HERSHEY_SIMPLEX, 1.0, cv::Scalar(255, 255, 255), 2,
              cv::LINE_AA);
  EXPECT_TRUE(same_pixels(run_op("- op: annotate\n  clock: media", kColor, meta), media));
  expect_one_error("- op: annotate\n  clock: wall", 2, 10, {"media", "capture"});
}

TEST(AnnotateOp, RejectsAColorComponentAbove255) {
  expect_one_error("- op: annotate\n  color: [255, 300, 0]", 2, 10, {"[B, G, R]", "[255, 300, 0]"});
}

TEST(AnnotateOp, RejectsAColorThatIsNotThreeIntegers) {
  expect_one_error("- op: annotate\n  color: white", 2, 10, {"[B, G, R]", "got white"});
  expect_one_error("- op: annotate\n  color: [1, 2]", 2, 10, {"[B, G, R]", "[1, 2]"});
  expect_one_error("- op: annotate\n  color: [1, 2.5, 3]", 2, 10, {"[B, G, R]"});
}

TEST(AnnotateOp, RejectsZeroScale) { expect_one_error("- op: annotate\n  scale: 0", 2, 10, {"(0, 100]"}); }

}  // namespace
}  // namespace cvpipe
