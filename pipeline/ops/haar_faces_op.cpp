// haar_faces: finds faces (or whatever its cascade was trained on) with OpenCV's Haar cascade
// classifier and adds each to the frame's detections. The frame's pixels are left as they are.
//
//   - op: haar_faces
//     cascade: /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml
//                            # the cascade XML; default: the frontal-face cascade of Debian's
//                            # opencv-data package; a relative path is relative to the config file
//     label: face            # class of the detections, 1-15 characters; default face
//     scale_factor: 1.1      # step between the scales searched, number in (1, 4]; default 1.1
//     min_neighbors: 3       # overlapping hits a detection needs, integer in [0, 100]; default 3
//     min_size: [30, 30]     # smallest face searched [width, height], each in [1, 65536]; default [30, 30]
//     detect_width: 0        # detect on a copy this wide (aspect kept), boxes in the frame's
//                            # coordinates; 0 (default) or the frame's width or more: the frame
//
// Exactly cv::CascadeClassifier(cascade).detectMultiScale(gray, boxes, neighbours, scale_factor,
// min_neighbors, 0, min_size) on the frame (converted to gray if it is BGR), as OpenCV's
// detectMultiScale2; a detection's score is its number of neighbours. Detections are sorted by
// position (top to bottom, then left to right), so the result does not depend on thread timing.
// With detect_width, the same on cv::resize(frame, INTER_AREA) to that width, with min_size scaled
// down alike, each box scaled back and rounded.
// The cascade is loaded (and checked) when the config is read, and again in each worker's open().
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/detection_boxes.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

constexpr const char* kDefaultCascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

// Loads a cascade; empty on success, else why not.
std::string load_cascade(cv::CascadeClassifier& c, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return path == kDefaultCascade ? "no such file (it comes with Debian's opencv-data package: apt-get install "
                                     "opencv-data)"
                                   : "no such file";
  try {
    if (c.load(path) && !c.empty()) return {};
  } catch (const cv::Exception& e) {
    return std::string("not a cascade OpenCV can read: ") + e.err;
  }
  return "not a cascade OpenCV can read";
}

class HaarFacesOp final : public Op {
 public:
  struct Params {
    std::string cascade = kDefaultCascade;
    std::string label = "face";
    double scale_factor = 1.1;
    int min_neighbors = 3;
    std::pair<int, int> min_size{30, 30};
    int detect_width = 0;
  };
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader& r) {
    Params p;
    p.cascade = r.path_value("cascade", kDefaultCascade);
    p.label = r.string("label", "face");
    p.scale_factor = r.number("scale_factor", 1.1, 1, 4);
    p.min_neighbors = static_cast<int>(r.integer("min_neighbors", 3, 0, 100));
    p.min_size = r.integer_pair("min_size", {30, 30}, 1, 65536);
    p.detect_width = static_cast<int>(r.integer("detect_width", 0, 0, 16384));
    if (r.describing()) {
      r.document_rule("detect_width", "0 or >= 24");
      r.document_rule("scale_factor", "> 1");
      r.document_rule("label", "1-15 characters");
      return p;
    }
    if (p.scale_factor <= 1 && r.has("scale_factor")) r.fail("scale_factor", "expected a number in (1, 4], got 1");
    if (p.detect_width > 0 && p.detect_width < 24)
      r.fail("detect_width", "expected 0 (the frame) or a width of at least 24 (a cascade's window), got " +
                                 std::to_string(p.detect_width));
    if (p.label.empty() || p.label.size() >= Detection::kLabelSize)
      r.fail("label", "expected 1 to " + std::to_string(Detection::kLabelSize - 1) + " characters, got \"" + p.label + "\"");
    cv::CascadeClassifier check;
    if (const std::string why = load_cascade(check, p.cascade); !why.empty()) r.fail("cascade", p.cascade + ": " + why);
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("haar_faces expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit HaarFacesOp(const Params& p) : p_(p) {}

  Status open() override {
    if (const std::string why = load_cascade(cascade_, p_.cascade); !why.empty())
      return Status::error("cascade " + p_.cascade + ": " + why);
    return Status::ok();
  }

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    if (out.data != in.data) in.copyTo(out);  // the runner passes the same buffer
    const DetectionImage d = detection_image(in, p_.detect_width, small_);
    const cv::Mat* gray = &d.image;
    if (d.image.channels() == 3) {
      cv::cvtColor(d.image, gray_, cv::COLOR_BGR2GRAY);
      gray = &gray_;
    }
    boxes_.clear();
    neighbours_.clear();
    // min_size is in the frame's pixels: in the detection image's, it is that much smaller.
    const cv::Size min_size(std::max(1, static_cast<int>(std::lround(p_.min_size.first / d.to_frame))),
                            std::max(1, static_cast<int>(std::lround(p_.min_size.second / d.to_frame))));
    cascade_.detectMultiScale(*gray, boxes_, neighbours_, p_.scale_factor, p_.min_neighbors, 0, min_size);
    boxes_to_frame(boxes_, d.to_frame, in.size());
    order_.resize(boxes_.size());
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
    add_boxes_in_reading_order(meta.detections, p_.label, boxes_, neighbours_, order_);
    return Status::ok();
  }

 private:
  Params p_;
  cv::CascadeClassifier cascade_;
  cv::Mat small_, gray_;  // the frame at detect_width; gray
  std::vector<cv::Rect> boxes_;
  std::vector<int> neighbours_;
  std::vector<std::size_t> order_;
};

}  // namespace

CVPIPE_REGISTER_OP(HaarFacesOp, "haar_faces", "finds faces with a Haar cascade (adds detections)",
                   "- op: haar_faces\n  scale_factor: 1.1\n  min_neighbors: 4\n  min_size: [24, 24]\n"
                   "  detect_width: 0   # e.g. 640: detect on a copy 640 wide, boxes on the full frame")

}  // namespace cvpipe
