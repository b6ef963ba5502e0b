// hog_people: finds standing people with OpenCV's HOG detector and its default people model
// (HOGDescriptor::getDefaultPeopleDetector, a 64x128 window) and adds each to the frame's
// detections. The frame's pixels are left as they are.
//
//   - op: hog_people
//     scale: 1.05            # step between the pyramid's scales, number in (1, 2]; default 1.05
//     stride: 8              # window stride in pixels: 8, 16, ... 64 (a multiple of HOG's 8-pixel
//                            # block stride); default 8
//     padding: 8             # pixels added around the frame, integer in [0, 64]; default 8
//     hit_threshold: 0       # SVM distance a window must exceed, number in [-10, 10]; default 0
//     group_threshold: 2     # overlapping windows a detection needs, integer in [0, 100]; default 2
//     min_size: [64, 128]    # smaller detections are left out [width, height]; default [64, 128]
//     label: person          # class of the detections, 1-15 characters; default person
//     detect_width: 0        # detect on a copy this wide (aspect kept), boxes in the frame's
//                            # coordinates; 0 (default) or the frame's width or more: the frame
//
// Exactly cv::HOGDescriptor().detectMultiScale(frame, boxes, weights, hit_threshold,
// {stride, stride}, {padding, padding}, scale, group_threshold, false) with the default people
// detector set; a detection's score is its SVM weight. Frames smaller than the 64x128 window give
// none. Detections are sorted by position (top to bottom, then left to right). With detect_width,
// the same on cv::resize(frame, INTER_AREA) to that width, each box scaled back and rounded;
// min_size is in the frame's pixels.
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/detection_boxes.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class HogPeopleOp final : public Op {
 public:
  struct Params {
    double scale = 1.05;
    int stride = 8;
    int padding = 8;
    double hit_threshold = 0;
    int group_threshold = 2;
    std::pair<int, int> min_size{64, 128};
    std::string label = "person";
    int detect_width = 0;
  };
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader& r) {
    Params p;
    p.scale = r.number("scale", 1.05, 1, 2);
    p.stride = static_cast<int>(r.integer("stride", 8, 8, 64));
    p.padding = static_cast<int>(r.integer("padding", 8, 0, 64));
    p.hit_threshold = r.number("hit_threshold", 0, -10, 10);
    p.group_threshold = static_cast<int>(r.integer("group_threshold", 2, 0, 100));
    p.min_size = r.integer_pair("min_size", {64, 128}, 1, 65536);
    p.label = r.string("label", "person");
    p.detect_width = static_cast<int>(r.integer("detect_width", 0, 0, 16384));
    if (r.describing()) {
      r.document_rule("detect_width", "0 or >= 64");
      r.document_rule("scale", "> 1");
      r.document_rule("stride", "a multiple of 8");
      r.document_rule("label", "1-15 characters");
      return p;
    }
    if (p.scale <= 1 && r.has("scale")) r.fail("scale", "expected a number in (1, 2], got 1");
    if (p.stride % 8 != 0 && r.has("stride"))
      r.fail("stride", "expected a multiple of 8 (HOG's block stride) in [8, 64], got " + std::to_string(p.stride));
    if (p.detect_width > 0 && p.detect_width < 64)
      r.fail("detect_width", "expected 0 (the frame) or a width of at least 64 (HOG's window), got " +
                                 std::to_string(p.detect_width));
    if (p.label.empty() || p.label.size() >= Detection::kLabelSize)
      r.fail("label", "expected 1 to " + std::to_string(Detection::kLabelSize - 1) + " characters, got \"" + p.label + "\"");
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("hog_people expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit HogPeopleOp(const Params& p) : p_(p) {}

  Status open() override {
    hog_.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
    return Status::ok();
  }

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    if (out.data != in.data) in.copyTo(out);  // the runner passes the same buffer
    const DetectionImage d = detection_image(in, p_.detect_width, small_);
    if (d.image.cols < hog_.winSize.width || d.image.rows < hog_.winSize.height) return Status::ok();
    boxes_.clear();
    weights_.clear();
    hog_.detectMultiScale(d.image, boxes_, weights_, p_.hit_threshold, cv::Size(p_.stride, p_.stride),
                          cv::Size(p_.padding, p_.padding), p_.scale, p_.group_threshold, false);
    boxes_to_frame(boxes_, d.to_frame, in.size());
    order_.clear();
    for (std::size_t i = 0; i < boxes_.size(); ++i)
      if (boxes_[i].width >= p_.min_size.first && boxes_[i].height >= p_.min_size.second) order_.push_back(i);
    add_boxes_in_reading_order(meta.detections, p_.label, boxes_, weights_, order_);
    return Status::ok();
  }

 private:
  Params p_;
  cv::HOGDescriptor hog_;
  cv::Mat small_;  // the frame at detect_width
  std::vector<cv::Rect> boxes_;
  std::vector<double> weights_;
  std::vector<std::size_t> order_;
};

}  // namespace

CVPIPE_REGISTER_OP(HogPeopleOp, "hog_people", "finds people with OpenCV's HOG detector (adds detections)",
                   "- op: hog_people\n  scale: 1.05\n  stride: 8\n  hit_threshold: 0\n  min_size: [64, 128]\n"
                   "  detect_width: 0   # e.g. 640: detect on a copy 640 wide, boxes on the full frame")

}  // namespace cvpipe
