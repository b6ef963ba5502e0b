// The vision ops (hog_people, haar_faces, motion, optical_flow, draw, blur_regions): objects found
// where they were pasted and nowhere else, the same boxes as OpenCV's detectors called directly,
// motion that follows a moving square, and the ops that use the detections a frame carries.
//
// The face and the person are cut from basketball1.png of Debian's opencv-doc package (OpenCV's
// sample data; tools/dev installs it); without it those tests fail, saying so (tests never skip).
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "pipeline/runtime/results_writer.hpp"
#include "tests/unit/op_test_util.hpp"

namespace cvpipe {
namespace {

using test::parse_op;
using test::same_pixels;

const std::string kSampleData = "/usr/share/doc/opencv-doc/examples/data/";
const std::string kCascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

// basketball1.png (640x480): OpenCV's frontal-face cascade finds the left man's face at
// (72, 91, 39, 39), and the HOG people detector the man at (0, 40, 190, 434).
cv::Mat sample(const std::string& name) { return cv::imread(kSampleData + name, cv::IMREAD_COLOR); }

#define ASSERT_SAMPLES()                                                                            \
  ASSERT_TRUE(std::filesystem::exists(kSampleData + "basketball1.png"))                             \
      << kSampleData << "basketball1.png is missing: apt-get install opencv-doc (tools/dev installs it)"

double iou(const cv::Rect& a, const cv::Rect& b) {
  const double inter = (a & b).area();
  return inter / (a.area() + b.area() - inter);
}

cv::Rect box_of(const Detection& d) { return {d.x, d.y, d.w, d.h}; }

// Runs one op instance over `frames` in order (as an ordered stage does); the detections of each.
// OpenCV runs on one thread, as in a worker: the same results every run, and nothing for TSan to
// report from inside OpenCV's thread pool (ctest runs each test in a process of its own).
std::vector<Detections> run_sequence(const std::string& yaml, const std::vector<cv::Mat>& frames) {
  cv::setNumThreads(1);
  const auto parsed = parse_op(yaml);
  EXPECT_TRUE(parsed.spec) << parsed.errors_text();
  if (!parsed.spec) return {};
  const auto op = parsed.spec->make();
  EXPECT_TRUE(op->open());
  std::vector<Detections> out;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    cv::Mat frame = frames[i].clone();
    FrameMeta meta;
    meta.seq = i;
    EXPECT_TRUE(op->process(frame, frame, meta));
    EXPECT_TRUE(same_pixels(frame, frames[i])) << "changed the pixels of frame " << i;
    out.push_back(meta.detections);
  }
  op->close();
  return out;
}

Detections detect(const std::string& yaml, const cv::Mat& frame) { return run_sequence(yaml, {frame}).at(0); }

// The face of basketball1.png with 30 pixels around it, on a flat background at `at`.
cv::Mat frame_with_face(cv::Point at, cv::Size size = {200, 160}, int background = 128) {
  cv::Mat frame(size, CV_8UC3, cv::Scalar::all(background));
  sample("basketball1.png")(cv::Rect(42, 61, 100, 100)).copyTo(frame(cv::Rect(at, cv::Size(100, 100))));
  return frame;
}
// Where the face is in it.
cv::Rect face_in(cv::Point at) { return {at.x + 30, at.y + 30, 39, 39}; }

// The left man of basketball1.png, at half size (100x230), on a flat background at `at`.
cv::Mat frame_with_person(cv::Point at, cv::Size size = {300, 280}, int background = 128) {
  cv::Mat person;
  cv::resize(sample("basketball1.png")(cv::Rect(0, 20, 200, 460)), person, {100, 230}, 0, 0, cv::INTER_AREA);
  cv::Mat frame(size, CV_8UC3, cv::Scalar::all(background));
  person.copyTo(frame(cv::Rect(at, person.size())));
  return frame;
}
cv::Rect person_in(cv::Point at) { return {at.x, at.y, 100, 230}; }

// ---- haar_faces ------------------------------------------------------------------------------------

TEST(HaarFacesOp, FindsThePastedFaceWhereverItIsAndNothingElse) {
  ASSERT_SAMPLES();
  for (const cv::Point at : {cv::Point(10, 10), cv::Point(90, 50), cv::Point(60, 0)}) {
    for (const int background : {40, 128, 220}) {
      SCOPED_TRACE(testing::Message() << "at " << at << " background " << background);
      const Detections d = detect("- op: haar_faces", frame_with_face(at, {200, 160}, background));
      ASSERT_EQ(d.size(), 1u);
      EXPECT_EQ(d.items[0].label_view(), "face");
      EXPECT_GT(iou(box_of(d.items[0]), face_in(at)), 0.7) << box_of(d.items[0]);
      EXPECT_GE(d.items[0].score, 3) << "score is the number of neighbours, >= min_neighbors";
    }
  }
}

TEST(HaarFacesOp, FindsTheFaceInAGrayFrameToo) {
  ASSERT_SAMPLES();
  cv::Mat gray;
  cv::cvtColor(frame_with_face({50, 30}), gray, cv::COLOR_BGR2GRAY);
  const Detections d = detect("- op: haar_faces", gray);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_GT(iou(box_of(d.items[0]), face_in({50, 30})), 0.7);
}

TEST(HaarFacesOp, FindsNothingOnBlankOrNoisyFrames) {
  EXPECT_EQ(detect("- op: haar_faces", cv::Mat(160, 200, CV_8UC3, cv::Scalar::all(128))).size(), 0u);
  EXPECT_EQ(detect("- op: haar_faces", cv::Mat(160, 200, CV_8UC1, cv::Scalar::all(0))).size(), 0u);
  EXPECT_EQ(detect("- op: haar_faces", test::test_frame(200, 160, CV_8UC3, 5)).size(), 0u);
}

TEST(HaarFacesOp, MinSizeLeavesOutSmallerFaces) {
  ASSERT_SAMPLES();
  EXPECT_EQ(detect("- op: haar_faces\n  min_size: [60, 60]", frame_with_face({50, 30})).size(), 0u);
}

TEST(HaarFacesOp, GivesTheBoxesOfOpenCVsCascadeCalledDirectly) {
  ASSERT_SAMPLES();
  cv::setNumThreads(1);
  const cv::Mat frame = sample("basketball1.png");
  cv::CascadeClassifier cascade(kCascade);
  cv::Mat gray;
  cv::cvtColor(frame, gray, cv::COLOR_BGR2GRAY);
  std::vector<cv::Rect> expected;
  std::vector<int> neighbours;
  cascade.detectMultiScale(gray, expected, neighbours, 1.2, 2, 0, {20, 20});
  const Detections d = detect("- op: haar_faces\n  scale_factor: 1.2\n  min_neighbors: 2\n  min_size: [20, 20]", frame);
  ASSERT_EQ(d.size(), expected.size());
  ASSERT_GE(expected.size(), 1u);
  for (const Detection& det : d) {
    const auto it = std::find(expected.begin(), expected.end(), box_of(det));
    ASSERT_NE(it, expected.end()) << box_of(det);
    EXPECT_EQ(det.score, static_cast<float>(neighbours[static_cast<std::size_t>(it - expected.begin())]));
  }
}

TEST(HaarFacesOp, ACustomCascadeAndLabel) {
  ASSERT_SAMPLES();
  const Detections d = detect("- op: haar_faces\n  cascade: /usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml"
                              "\n  label: visage", frame_with_face({50, 30}));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d.items[0].label_view(), "visage");
}

TEST(HaarFacesOp, AMissingOrBadCascadeIsAConfigErrorNamingIt) {
  auto parsed = parse_op("- op: haar_faces\n  cascade: /nonexistent/cascade.xml");
  ASSERT_EQ(parsed.errors.size(), 1u) << parsed.errors_text();
  EXPECT_EQ(parsed.errors[0].line, 2);
  EXPECT_NE(parsed.errors[0].message.find("/nonexistent/cascade.xml: no such file"), std::string::npos)
      << parsed.errors_text();
  const std::string not_a_cascade = ::testing::TempDir() + "not_a_cascade.xml";
  { std::FILE* f = std::fopen(not_a_cascade.c_str(), "w"); std::fputs("<?xml version=\"1.0\"?>\n<opencv_storage>\n</opencv_storage>\n", f); std::fclose(f); }
  parsed = parse_op("- op: haar_faces\n  cascade: " + not_a_cascade);
  ASSERT_EQ(parsed.errors.size(), 1u) << parsed.errors_text();
  EXPECT_NE(parsed.errors[0].message.find("not a cascade"), std::string::npos) << parsed.errors_text();
}

TEST(HaarFacesOp, RejectsBadParameters) {
  for (const char* yaml : {"- op: haar_faces\n  scale_factor: 1", "- op: haar_faces\n  min_neighbors: -1",
                           "- op: haar_faces\n  min_size: [30]", "- op: haar_faces\n  min_size: 30",
                           "- op: haar_faces\n  label: a_label_far_too_long"}) {
    SCOPED_TRACE(yaml);
    const auto parsed = parse_op(yaml);
    ASSERT_EQ(parsed.errors.size(), 1u) << parsed.errors_text();
    EXPECT_EQ(parsed.errors[0].line, 2);
  }
}

// ---- hog_people ------------------------------------------------------------------------------------

TEST(HogPeopleOp, FindsThePastedPersonWhereverItIsAndNothingElse) {
  ASSERT_SAMPLES();
  for (const cv::Point at : {cv::Point(20, 30), cv::Point(180, 40)}) {
    SCOPED_TRACE(testing::Message() << "at " << at);
    const Detections d = detect("- op: hog_people", frame_with_person(at));
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d.items[0].label_view(), "person");
    EXPECT_GT(iou(box_of(d.items[0]), person_in(at)), 0.6) << box_of(d.items[0]);
    EXPECT_GT(d.items[0].score, 0.f);
  }
}

TEST(HogPeopleOp, FindsNothingOnBlankFramesOrFramesSmallerThanItsWindow) {
  EXPECT_EQ(detect("- op: hog_people", cv::Mat(280, 300, CV_8UC3, cv::Scalar::all(128))).size(), 0u);
  EXPECT_EQ(detect("- op: hog_people", cv::Mat(280, 300, CV_8UC1, cv::Scalar::all(30))).size(), 0u);
  EXPECT_EQ(detect("- op: hog_people", test::test_frame(60, 120, CV_8UC3)).size(), 0u);
}

TEST(HogPeopleOp, MinSizeLeavesOutSmallerPeople) {
  ASSERT_SAMPLES();
  EXPECT_EQ(detect("- op: hog_people\n  min_size: [64, 260]", frame_with_person({20, 30})).size(), 0u);
}

TEST(HogPeopleOp, GivesTheBoxesOfOpenCVsDetectorCalledDirectly) {
  ASSERT_SAMPLES();
  cv::setNumThreads(1);
  cv::Mat frame;
  cv::resize(sample("basketball1.png"), frame, {320, 240}, 0, 0, cv::INTER_AREA);
  cv::HOGDescriptor hog;
  hog.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  std::vector<cv::Rect> expected;
  std::vector<double> weights;
  hog.detectMultiScale(frame, expected, weights, -0.2, {8, 8}, {16, 16}, 1.03, 1, false);
  const Detections d = detect("- op: hog_people\n  hit_threshold: -0.2\n  padding: 16\n  scale: 1.03\n  group_threshold: 1",
                              frame);
  ASSERT_EQ(d.size(), expected.size());
  ASSERT_GE(expected.size(), 1u);
  for (const Detection& det : d) {
    const auto it = std::find(expected.begin(), expected.end(), box_of(det));
    ASSERT_NE(it, expected.end()) << box_of(det);
    EXPECT_FLOAT_EQ(det.score, static_cast<float>(weights[static_cast<std::size_t>(it - expected.begin())]));
  }
}

// Detect small, draw big: the boxes OpenCV finds on the frame scaled to detect_width, scaled back
// to the frame (within the rounding of a pixel or two).
void expect_boxes_scaled_back(const Detections& d, const std::vector<cv::Rect>& on_small, double factor) {
  ASSERT_EQ(d.size(), on_small.size());
  for (const cv::Rect& small : on_small) {
    const cv::Rect big(static_cast<int>(small.x * factor), static_cast<int>(small.y * factor),
                       static_cast<int>(small.width * factor), static_cast<int>(small.height * factor));
    const bool found = std::any_of(d.begin(), d.end(),
                                   [&](const Detection& det) {
                                     return std::abs(det.x - big.x) <= 2 && std::abs(det.y - big.y) <= 2 &&
                                            std::abs(det.w - big.width) <= 2 && std::abs(det.h - big.height) <= 2;
                                   });
    EXPECT_TRUE(found) << "no detection near " << big;
  }
}

TEST(HogPeopleOp, DetectWidthFindsOnASmallerCopyAndGivesBoxesOnTheFrame) {
  ASSERT_SAMPLES();
  cv::setNumThreads(1);
  const cv::Mat frame = sample("basketball1.png");  // 640x480
  cv::Mat small;
  cv::resize(frame, small, {320, 240}, 0, 0, cv::INTER_AREA);
  cv::HOGDescriptor hog;
  hog.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  std::vector<cv::Rect> on_small;
  std::vector<double> weights;
  hog.detectMultiScale(small, on_small, weights, -0.2, {8, 8}, {16, 16}, 1.03, 1, false);
  ASSERT_GE(on_small.size(), 1u);
  const Detections d = detect("- op: hog_people\n  hit_threshold: -0.2\n  padding: 16\n  scale: 1.03\n"
                              "  group_threshold: 1\n  detect_width: 320",
                              frame);
  expect_boxes_scaled_back(d, on_small, 2.0);
  // The pasted person, found at full size and at half size, is in the same place.
  const cv::Mat person = frame_with_person({180, 40}, {600, 560});
  cv::Mat big_person;
  cv::resize(person, big_person, {1200, 1120}, 0, 0, cv::INTER_LINEAR);
  const Detections full = detect("- op: hog_people", person);
  const Detections halved = detect("- op: hog_people\n  detect_width: 600", big_person);
  ASSERT_EQ(full.size(), 1u);
  ASSERT_EQ(halved.size(), 1u);
  const cv::Rect f = box_of(full.items[0]);
  EXPECT_GT(iou(box_of(halved.items[0]), cv::Rect(f.x * 2, f.y * 2, f.width * 2, f.height * 2)), 0.9);
}

TEST(HaarFacesOp, DetectWidthFindsOnASmallerCopyWithMinSizeInTheFramesPixels) {
  ASSERT_SAMPLES();
  cv::setNumThreads(1);
  // basketball1.png at twice its size; the face is found on a copy at its own size.
  cv::Mat frame, small, gray;
  cv::resize(sample("basketball1.png"), frame, {1280, 960}, 0, 0, cv::INTER_LINEAR);
  cv::resize(frame, small, {640, 480}, 0, 0, cv::INTER_AREA);
  cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
  cv::CascadeClassifier cascade(kCascade);
  std::vector<cv::Rect> on_small;
  std::vector<int> neighbours;
  cascade.detectMultiScale(gray, on_small, neighbours, 1.1, 2, 0, {15, 15});
  ASSERT_GE(on_small.size(), 1u);
  const Detections d = detect("- op: haar_faces\n  scale_factor: 1.1\n  min_neighbors: 2\n  min_size: [30, 30]\n"
                              "  detect_width: 640",
                              frame);
  expect_boxes_scaled_back(d, on_small, 2.0);
}

TEST(HogPeopleOp, ADetectWidthNarrowerThanItsWindowIsRejected) {
  const auto parsed = parse_op("- op: hog_people\n  detect_width: 32");
  EXPECT_FALSE(parsed.spec);
  EXPECT_NE(parsed.errors_text().find("detect_width: expected 0 (the frame) or a width of at least 64"), std::string::npos)
      << parsed.errors_text();
}

TEST(HogPeopleOp, RejectsAStrideThatIsNotAMultipleOfTheBlockStride) {
  const auto parsed = parse_op("- op: hog_people\n  stride: 12");
  ASSERT_EQ(parsed.errors.size(), 1u) << parsed.errors_text();
  EXPECT_NE(parsed.errors[0].message.find("multiple of 8"), std::string::npos);
}

// ---- motion and optical_flow ----------------------------------------------------------------------

// `empty` frames of a static textured background, then `frames` more with a textured square on it
// moving `step` pixels right per frame (`where` gets its box, empty while absent).
std::vector<cv::Mat> moving_square(int frames, int step, std::vector<cv::Rect>& where, int type = CV_8UC3,
                                   int empty = 0) {
  cv::Mat background(120, 200, type), square(24, 24, type);
  cv::RNG rng(11);
  rng.fill(background, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(background, background, {5, 5}, 0);
  rng.fill(square, cv::RNG::UNIFORM, 0, 2);
  square *= 255;  // black and white noise: every pixel stands out from the blurred background
  std::vector<cv::Mat> out;
  for (int i = 0; i < empty; ++i) {
    out.push_back(background.clone());
    where.push_back({});
  }
  for (int i = 0; i < frames; ++i) {
    cv::Mat f = background.clone();
    const cv::Rect r(10 + step * i, 40, 24, 24);
    square.copyTo(f(r));
    where.push_back(r);
    out.push_back(f);
  }
  return out;
}

TEST(MotionOp, DeclaresItselfOrdered) {
  EXPECT_TRUE(OpRegistry::instance().find("motion")->ordered);
  EXPECT_TRUE(OpRegistry::instance().find("optical_flow")->ordered);
  EXPECT_FALSE(OpRegistry::instance().find("haar_faces")->ordered);
}

TEST(MotionOp, AMovingSquareGivesOneRegionThatFollowsIt) {
  for (const char* method : {"mog2", "knn"}) {
    for (const int type : {CV_8UC3, CV_8UC1}) {
      SCOPED_TRACE(testing::Message() << method << " type " << type);
      // The model learns the empty scene first (5 frames of warm-up, the default, then 3 more).
      std::vector<cv::Rect> where;
      const auto frames = moving_square(7, 26, where, type, 8);
      const auto found = run_sequence(std::string("- op: motion\n  method: ") + method, frames);
      ASSERT_EQ(found.size(), frames.size());
      for (std::size_t i = 0; i < found.size(); ++i) {
        SCOPED_TRACE(testing::Message() << "frame " << i);
        if (where[i].empty()) {
          EXPECT_EQ(found[i].size(), 0u) << (i < 5 ? "warming up" : "nothing moves yet");
          continue;
        }
        ASSERT_EQ(found[i].size(), 1u);
        EXPECT_EQ(found[i].items[0].label_view(), "motion");
        EXPECT_GT(iou(box_of(found[i].items[0]), where[i]), 0.8) << box_of(found[i].items[0]) << " vs " << where[i];
        EXPECT_GT(found[i].items[0].score, 0.5f);
      }
    }
  }
}

TEST(MotionOp, AStaticSceneHasNoMotion) {
  std::vector<cv::Rect> where;
  const auto frames = moving_square(10, 0, where);
  for (const auto& d : run_sequence("- op: motion\n  warmup: 1", frames)) EXPECT_EQ(d.size(), 0u);
}

TEST(MotionOp, MinAreaLeavesOutSmallRegions) {
  std::vector<cv::Rect> where;
  const auto frames = moving_square(10, 10, where);
  for (const auto& d : run_sequence("- op: motion\n  min_area: 1000", frames)) EXPECT_EQ(d.size(), 0u);
}

TEST(OpticalFlowOp, VectorsPointTheWayTheSquareMovesWhereItIs) {
  std::vector<cv::Rect> where;
  const auto frames = moving_square(4, 3, where);
  const auto found = run_sequence("- op: optical_flow\n  grid: [8, 4]\n  min_magnitude: 0.5", frames);
  EXPECT_EQ(found[0].size(), 0u) << "no previous frame";
  for (std::size_t i = 1; i < found.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "frame " << i);
    ASSERT_GE(found[i].size(), 1u);
    const Detection* longest = nullptr;
    for (const Detection& d : found[i]) {
      EXPECT_EQ(d.label_view(), "flow");
      EXPECT_TRUE(d.flags & Detection::kHasVector);
      EXPECT_TRUE((box_of(d) & (where[i] | where[i - 1])).area() > 0) << "a vector away from the square: " << box_of(d);
      EXPECT_GT(d.dx, 0.f);
      EXPECT_LT(std::abs(d.dy), d.dx);
      if (!longest || d.score > longest->score) longest = &d;
    }
    EXPECT_NEAR(longest->score, std::hypot(longest->dx, longest->dy), 1e-3);
  }
}

TEST(OpticalFlowOp, AGridOfMoreCellsThanAFrameCarriesIsRejected) {
  const auto parsed = parse_op("- op: optical_flow\n  grid: [10, 10]");
  ASSERT_EQ(parsed.errors.size(), 1u) << parsed.errors_text();
  EXPECT_NE(parsed.errors[0].message.find("at most 64 cells"), std::string::npos) << parsed.errors_text();
}

// ---- draw and blur_regions --------------------------------------------------------------------------

FrameMeta meta_with(std::initializer_list<std::pair<const char*, cv::Rect>> boxes) {
  FrameMeta meta;
  for (const auto& [label, r] : boxes) meta.detections.add(label, r.x, r.y, r.width, r.height, 0.75f);
  return meta;
}

cv::Mat run_with_meta(const std::string& yaml, const cv::Mat& in, FrameMeta meta) {
  const auto parsed = parse_op(yaml);
  EXPECT_TRUE(parsed.spec) << parsed.errors_text();
  cv::Mat out = in.clone();
  const auto op = parsed.spec->make();
  EXPECT_TRUE(op->open());
  EXPECT_TRUE(op->process(out, out, meta));
  return out;
}

TEST(DrawOp, DrawsTheBoxesOfTheChosenClassesOnly) {
  const cv::Mat frame(100, 120, CV_8UC3, cv::Scalar::all(0));
  const FrameMeta meta = meta_with({{"face", {10, 20, 30, 30}}, {"person", {60, 10, 40, 80}}});
  cv::Mat out = run_with_meta("- op: draw\n  classes: [face]\n  color: [255, 0, 0]\n  thickness: 1\n  labels: false",
                              frame, meta);
  EXPECT_EQ(out.at<cv::Vec3b>(20, 10), cv::Vec3b(255, 0, 0));  // the face's top-left corner
  EXPECT_EQ(out.at<cv::Vec3b>(49, 39), cv::Vec3b(255, 0, 0));  // its bottom-right corner
  EXPECT_EQ(cv::countNonZero(out.reshape(1)(cv::Rect(60 * 3, 0, 60 * 3, 100))), 0) << "the person was drawn";
  out = run_with_meta("- op: draw", frame, meta);
  EXPECT_GT(cv::countNonZero(out.reshape(1)(cv::Rect(60 * 3, 0, 60 * 3, 100))), 0) << "all classes by default";
}

TEST(DrawOp, BoxesOutsideTheFrameOrAbsurdValuesDoNotFail) {
  const cv::Mat frame(50, 60, CV_8UC1, cv::Scalar::all(0));
  FrameMeta meta = meta_with({{"x", {-100, -100, 500, 500}}, {"y", {2'000'000'000, 5, 2'000'000'000, -7}}});
  meta.detections.add_vector("flow", 0, 0, 10, 10, 1e30f, 1e30f, -1e30f);
  const cv::Mat out = run_with_meta("- op: draw", frame, meta);
  EXPECT_EQ(out.size(), frame.size());
}

TEST(BlurRegionsOp, BlursInsideTheBoxesOfTheChosenClassesAndNothingElse) {
  const cv::Mat frame = test::test_frame(120, 100, CV_8UC3, 9);
  const FrameMeta meta = meta_with({{"face", {10, 20, 30, 30}}, {"person", {60, 10, 40, 80}}});
  const cv::Mat out = run_with_meta("- op: blur_regions\n  classes: [face]\n  padding: 0", frame, meta);
  const cv::Rect face(10, 20, 30, 30);
  cv::Mat outside_mask(frame.size(), CV_8U, cv::Scalar(255));
  outside_mask(face).setTo(0);
  cv::Mat diff;
  cv::absdiff(out, frame, diff);
  EXPECT_EQ(cv::norm(diff, cv::NORM_INF, outside_mask), 0) << "changed pixels outside the face";
  EXPECT_GT(cv::norm(diff(face), cv::NORM_L1), 0) << "the face is unchanged";
  // Blurred: much less variation inside than before.
  cv::Mat lap_before, lap_after;
  cv::Laplacian(frame(face), lap_before, CV_32F);
  cv::Laplacian(out(face), lap_after, CV_32F);
  EXPECT_LT(cv::norm(lap_after), cv::norm(lap_before) / 4);
}

TEST(BlurRegionsOp, FillAndPixelateGrowBoxesByThePaddingWithinTheFrame) {
  const cv::Mat frame = test::test_frame(120, 100, CV_8UC1, 9);
  const FrameMeta meta = meta_with({{"face", {100, 80, 20, 20}}});
  cv::Mat out = run_with_meta("- op: blur_regions\n  method: fill\n  color: 7\n  padding: 0.5", frame, meta);
  EXPECT_EQ(cv::countNonZero(out(cv::Rect(90, 70, 30, 30)) != 7), 0) << "grown by 10 pixels, clipped at the frame's edge";
  EXPECT_EQ(cv::norm(out(cv::Rect(0, 0, 90, 100)), frame(cv::Rect(0, 0, 90, 100)), cv::NORM_INF), 0);
  out = run_with_meta("- op: blur_regions\n  method: pixelate\n  ksize: 10\n  padding: 0", frame, meta);
  const cv::Mat block = out(cv::Rect(100, 80, 10, 10));
  double lo, hi;
  cv::minMaxLoc(block, &lo, &hi);
  EXPECT_EQ(lo, hi) << "a 10x10 block is one value";
}

// ---- Detections and their travel ------------------------------------------------------------------

TEST(Detections, KeepsKCapacityAndCountsTheRestAsOverflow) {
  Detections d;
  for (int i = 0; i < 70; ++i) d.add("thing", i, 0, 1, 1, 1);
  EXPECT_EQ(d.size(), Detections::kCapacity);
  EXPECT_EQ(d.overflow, 70 - Detections::kCapacity);
  EXPECT_EQ(d.items[63].x, 63);
  d.add("a_label_longer_than_sixteen", 0, 0, 1, 1, 1);
  d.clear();
  d.add("a_label_longer_than_sixteen", 0, 0, 1, 1, 1);
  EXPECT_EQ(d.items[0].label_view(), "a_label_longer_");
  d.count = 1'000'000;  // as a misbehaving worker could leave it
  EXPECT_EQ(d.size(), Detections::kCapacity);
}

TEST(ResizeOp, MovesTheDetectionsWithTheFrame) {
  FrameMeta meta = meta_with({{"face", {10, 20, 30, 40}}});
  meta.detections.add_vector("flow", 0, 0, 8, 8, 2, 2, -1);
  const auto parsed = parse_op("- op: resize\n  scale: 0.5");
  ASSERT_TRUE(parsed.spec);
  const cv::Mat in(100, 120, CV_8UC3, cv::Scalar::all(1));
  cv::Mat out(50, 60, CV_8UC3);
  ASSERT_TRUE(parsed.spec->make()->process(in, out, meta));
  EXPECT_EQ(box_of(meta.detections.items[0]), cv::Rect(5, 10, 15, 20));
  EXPECT_FLOAT_EQ(meta.detections.items[1].dx, 1.f);
  EXPECT_FLOAT_EQ(meta.detections.items[1].dy, -0.5f);
}

TEST(ResultsWriter, AnyValuesAWorkerLeftGiveAValidLine) {
  FrameMeta meta;
  meta.capture_ns = std::numeric_limits<std::int64_t>::max();
  meta.pts_us = std::numeric_limits<std::int64_t>::min();
  meta.detections.add("x", std::numeric_limits<int>::min(), 0, -5, std::numeric_limits<int>::max(),
                      std::numeric_limits<float>::quiet_NaN());
  std::memset(meta.detections.items[0].label, 'A', Detection::kLabelSize);  // no NUL
  meta.detections.items[0].label[3] = '\n';
  meta.detections.count = 1'000'000;
  std::string line;
  ResultsWriter::format_line(meta, std::numeric_limits<std::int64_t>::max(), line);
  EXPECT_NE(line.find("\"class\":\"AAA\\u000aAAAAAAAAAAAA\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"score\":null"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(ResultsWriter, OneJsonObjectPerFrameWithEveryDetection) {
  FrameMeta meta = meta_with({{"face", {10, 20, 30, 40}}});
  meta.seq = 12;
  meta.pts_us = 480'000;
  meta.capture_ns = 1'000'000'000;
  meta.detections.add_vector("fl\"ow", 0, 0, 8, 8, 2.5f, 2, -1.5f);
  meta.detections.overflow = 3;
  std::string line;
  ResultsWriter::format_line(meta, 1'795'000'000'000'000'000 - 1'000'000'000, line);
  EXPECT_EQ(line,
            "{\"seq\":12,\"pts_ms\":480.000,\"captured_at\":\"2026-11-18T11:06:40.000Z\",\"detections\":["
            "{\"class\":\"face\",\"x\":10,\"y\":20,\"w\":30,\"h\":40,\"score\":0.75},"
            "{\"class\":\"fl\\\"ow\",\"x\":0,\"y\":0,\"w\":8,\"h\":8,\"score\":2.5,\"dx\":2.000,\"dy\":-1.500}],"
            "\"overflow\":3}");
}

}  // namespace
}  // namespace cvpipe
