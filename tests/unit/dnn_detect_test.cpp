// dnn_detect on tiny ONNX models whose outputs are constants (tests/dnn/make_models.py, made into
// models/ of the working directory by the dnn_test_models fixture): every decoded box, class and
// score, and what NMS keeps, are known in advance, in each decoder and layout; and the config
// errors a model that does not fit gives.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/op_test_util.hpp"

namespace cvpipe {
namespace {

using test::parse_op;
using test::run_op;

struct Found {
  std::string label;
  cv::Rect box;
  float score;
};

std::vector<Found> detect(const std::string& yaml, const cv::Mat& frame) {
  FrameMeta meta;
  const auto parsed = parse_op(yaml);
  EXPECT_TRUE(parsed.spec.has_value()) << parsed.errors_text();
  if (!parsed.spec) return {};
  auto op = parsed.spec->make();
  EXPECT_TRUE(op->open()) << yaml;
  cv::Mat buffer = frame.clone();
  EXPECT_TRUE(op->process(buffer, buffer, meta));
  std::vector<Found> found;
  for (const Detection& d : meta.detections)
    found.push_back({d.label, cv::Rect(d.x, d.y, d.w, d.h), d.score});
  return found;
}

std::string with_model(const std::string& model, const std::string& extra = "") {
  return "- op: dnn_detect\n  model: models/" + model + "\n  input: [64, 64]\n" + extra;
}

// The boxes of make_models.py's BOXES on a 128x128 frame (twice the 64x64 input): the second
// overlaps the first and goes to NMS, the fourth is below the threshold.
void expect_the_two_boxes(const std::vector<Found>& found, const std::string& first = "0",
                          const std::string& second = "1") {
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].label, first);
  EXPECT_EQ(found[0].box, cv::Rect(24, 24, 32, 32));
  EXPECT_FLOAT_EQ(found[0].score, 0.9f);
  EXPECT_EQ(found[1].label, second);
  EXPECT_EQ(found[1].box, cv::Rect(76, 60, 24, 40));
  EXPECT_FLOAT_EQ(found[1].score, 0.7f);
}

const cv::Mat kFrame = cv::Mat(128, 128, CV_8UC3, cv::Scalar(10, 20, 30));

TEST(DnnDetect, YoloV5OutputsAreDecodedAndSuppressed) {
  expect_the_two_boxes(detect(with_model("yolo_v5.onnx", "  decoder: yolo\n"), kFrame));
}

TEST(DnnDetect, YoloV8OutputsGiveTheSameBoxes) {
  expect_the_two_boxes(detect(with_model("yolo_v8.onnx", "  decoder: yolo\n"), kFrame));
}

TEST(DnnDetect, SsdOutputsGiveTheSameBoxes) {
  expect_the_two_boxes(detect(with_model("ssd.onnx", "  decoder: ssd\n"), kFrame));
}

TEST(DnnDetect, AnNhwcModelIsFedNhwcAndGrayFramesAsBgr) {
  const cv::Mat gray(128, 128, CV_8UC1, cv::Scalar(50));
  expect_the_two_boxes(detect(with_model("yolo_v5_nhwc.onnx", "  decoder: yolo\n  layout: nhwc\n"), gray));
}

TEST(DnnDetect, LabelsNameTheClassesAndClassesKeepSome) {
  expect_the_two_boxes(detect(with_model("yolo_v5.onnx", "  decoder: yolo\n  labels: [face, person]\n"), kFrame),
                       "face", "person");
  const auto people = detect(with_model("yolo_v5.onnx", "  decoder: yolo\n  labels: [face, person]\n  classes: [person]\n"),
                             kFrame);
  ASSERT_EQ(people.size(), 1u);
  EXPECT_EQ(people[0].label, "person");
  const auto renamed = detect(with_model("ssd.onnx", "  decoder: ssd\n  classes: [\"1\"]\n  label: thing\n"), kFrame);
  ASSERT_EQ(renamed.size(), 1u);
  EXPECT_EQ(renamed[0].label, "thing");
  EXPECT_EQ(renamed[0].box, cv::Rect(76, 60, 24, 40));
}

TEST(DnnDetect, ThresholdsDecideWhatIsKept) {
  // Below 0.3 the fourth box is in; NMS at 0.8 keeps the overlapping second one too.
  const auto all = detect(with_model("yolo_v5.onnx", "  decoder: yolo\n  score_threshold: 0.2\n  nms_threshold: 0.8\n"),
                          kFrame);
  EXPECT_EQ(all.size(), 4u);
}

TEST(DnnDetect, NumbersNoModelShouldGiveAreLeftOut) {
  // NaN classes or corners and a class beyond int's range: only the one good box is found.
  const auto found = detect(with_model("ssd_hostile.onnx", "  decoder: ssd\n"), kFrame);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].label, "1");
  EXPECT_EQ(found[0].box, cv::Rect(32, 32, 32, 64));
}

TEST(DnnDetect, LetterboxMapsBoxesBackThroughThePadding) {
  // 128x64 into 64x64: scaled by 0.5 to 64x32, 16 rows of padding above. Boxes are clipped to the frame.
  const cv::Mat wide(64, 128, CV_8UC3, cv::Scalar(0, 0, 0));
  const auto found = detect(with_model("yolo_v5.onnx", "  decoder: yolo\n  resize: letterbox\n"), wide);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].box, cv::Rect(24, 0, 32, 24));
  EXPECT_EQ(found[1].box, cv::Rect(76, 28, 24, 36));
}

// A model that does not fit is a config error at the key to change, in one line.
std::string error_of(const std::string& yaml) {
  const auto parsed = parse_op(yaml);
  EXPECT_FALSE(parsed.spec.has_value()) << yaml;
  return parsed.errors_text();
}

TEST(DnnDetect, AMissingOrNonOnnxModelIsAnErrorAtModel) {
  EXPECT_NE(error_of(with_model("none.onnx", "  decoder: yolo\n")).find("ops[0].model: cannot read models/none.onnx: "),
            std::string::npos);
  const std::string text = error_of(with_model("not_onnx.onnx", "  decoder: yolo\n"));
  EXPECT_NE(text.find("ops[0].model: models/not_onnx.onnx is not an ONNX model OpenCV can read"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

TEST(DnnDetect, OutputsTheDecoderCannotReadAreAnErrorAtDecoder) {
  EXPECT_NE(error_of(with_model("ssd.onnx", "  decoder: yolo\n")).find("ops[0].decoder: yolo reads one output of [1, N, 5+C] (YOLOv5) or [1, 4+C, N] (YOLOv8); the model gives [1, 1, 4, 7]"),
            std::string::npos);
  EXPECT_NE(error_of(with_model("yolo_v5.onnx", "  decoder: ssd\n")).find("ops[0].decoder: ssd reads one output of [1, 1, N, 7]; the model gives [1, 4, 7]"),
            std::string::npos);
}

TEST(DnnDetect, BlazeFaceNeedsItsFourOutputs) {
  const std::string text = error_of(with_model("yolo_v5.onnx", "  decoder: blazeface\n"));
  EXPECT_NE(text.find("ops[0].decoder: blazeface reads 4 outputs, [1, A, 1] scores and [1, A, 16] regressors for two "
                      "anchor grids (2 and 6 anchors a cell); the model gives [1, 4, 7]"),
            std::string::npos) << text;
}

TEST(DnnDetect, AnInputSizeAFixedModelDoesNotTakeIsAnErrorAtInput) {
  EXPECT_TRUE(parse_op(with_model("fixed_64.onnx", "  decoder: yolo\n")).spec.has_value());
  const std::string text = error_of("- op: dnn_detect\n  model: models/fixed_64.onnx\n  decoder: yolo\n  input: [32, 32]\n");
  EXPECT_NE(text.find("ops[0].input: the model does not run on a 1x3x32x32 input (nchw; check input and layout): "),
            std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

TEST(DnnDetect, LabelsAndClassesMustFitTheModel) {
  EXPECT_NE(error_of(with_model("yolo_v5.onnx", "  decoder: yolo\n  labels: [a, b, c]\n")).find("ops[0].labels: the model scores 2 classes, the labels name 3"),
            std::string::npos);
  EXPECT_NE(error_of(with_model("yolo_v5.onnx", "  decoder: yolo\n  labels: [a, b]\n  classes: [dog]\n")).find("ops[0].classes: \"dog\" is not a class of the model (a name from labels)"),
            std::string::npos);
  EXPECT_NE(error_of(with_model("yolo_v5.onnx", "  decoder: yolo\n  classes: [\"7\"]\n")).find("(give labels, or numbers below 2)"),
            std::string::npos);
}

TEST(DnnDetect, ModelDecoderAndInputAreRequired) {
  const std::string text = error_of("- op: dnn_detect\n");
  EXPECT_NE(text.find("ops[0].model: missing required key"), std::string::npos) << text;
  EXPECT_NE(text.find("ops[0].decoder: missing required key"), std::string::npos) << text;
  EXPECT_NE(text.find("ops[0].input: missing required key"), std::string::npos) << text;
}

}  // namespace
}  // namespace cvpipe
