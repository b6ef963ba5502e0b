// blur_regions: hides the detections the frame carries (faces, for privacy): each box, grown by
// `padding`, is blurred, pixelated or filled. In place.
//
//   - op: blur_regions
//     classes: [face]        # the classes to hide; default [] (all)
//     method: gaussian       # gaussian | pixelate | fill; default gaussian
//     ksize: 31              # gaussian: odd kernel size in [3, 255]; pixelate: block size in
//                            # pixels (any integer in [2, 255]); default 31
//     padding: 0.1           # each box grows by this share of its size on every side, number in [0, 1]; default 0.1
//     color: 0               # fill: the gray level of every channel, integer in [0, 255]; default 0
//
// gaussian is cv::GaussianBlur of the box (its border pixels taken from around it, like the rest of
// the frame); pixelate shrinks the box by ksize with INTER_AREA and scales it back with
// INTER_NEAREST. Boxes are clipped to the frame; vectors (optical_flow) are never hidden.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class BlurRegionsOp final : public Op {
 public:
  enum class Method { kGaussian, kPixelate, kFill };
  struct Params {
    std::vector<std::string> classes;
    Method method = Method::kGaussian;
    int ksize = 31;
    double padding = 0.1;
    int color = 0;
  };
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader& r) {
    Params p;
    p.classes = r.string_list("classes", {});
    const std::string method = r.choice("method", "gaussian", {"gaussian", "pixelate", "fill"});
    p.method = method == "pixelate" ? Method::kPixelate : method == "fill" ? Method::kFill : Method::kGaussian;
    p.ksize = static_cast<int>(r.integer("ksize", 31, 2, 255));
    p.padding = r.number("padding", 0.1, 0, 1);
    p.color = static_cast<int>(r.integer("color", 0, 0, 255));
    if (r.describing()) {
      r.document_rule("ksize", "gaussian: odd, >= 3");
      return p;
    }
    if (p.method == Method::kGaussian && r.has("ksize") && (p.ksize % 2 == 0 || p.ksize < 3))
      r.fail("ksize", "expected an odd integer in [3, 255] for method gaussian, got " + std::to_string(p.ksize));
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("blur_regions expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit BlurRegionsOp(const Params& p) : p_(p) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    if (out.data != in.data) in.copyTo(out);  // the runner passes the same buffer
    const cv::Rect frame(0, 0, out.cols, out.rows);
    for (const Detection& d : meta.detections) {
      if (d.flags & Detection::kHasVector) continue;
      const std::string_view label = d.label_view();
      if (!p_.classes.empty() && std::find(p_.classes.begin(), p_.classes.end(), label) == p_.classes.end()) continue;
      // Any values: a worker of an earlier stage wrote them. Computed in double, then clipped.
      const double pad_x = std::max(0, d.w) * p_.padding, pad_y = std::max(0, d.h) * p_.padding;
      const double x0 = std::clamp(d.x - pad_x, 0.0, static_cast<double>(out.cols));
      const double y0 = std::clamp(d.y - pad_y, 0.0, static_cast<double>(out.rows));
      const double x1 = std::clamp(static_cast<double>(d.x) + std::max(0, d.w) + pad_x, 0.0, static_cast<double>(out.cols));
      const double y1 = std::clamp(static_cast<double>(d.y) + std::max(0, d.h) + pad_y, 0.0, static_cast<double>(out.rows));
      const cv::Rect box = cv::Rect(cv::Point(static_cast<int>(std::floor(x0)), static_cast<int>(std::floor(y0))),
                                    cv::Point(static_cast<int>(std::ceil(x1)), static_cast<int>(std::ceil(y1)))) &
                           frame;
      if (box.empty()) continue;
      cv::Mat roi = out(box);
      switch (p_.method) {
        case Method::kGaussian:
          cv::GaussianBlur(roi, roi, {p_.ksize, p_.ksize}, 0, 0, cv::BORDER_DEFAULT);
          break;
        case Method::kPixelate: {
          const cv::Size small(std::max(1, box.width / p_.ksize), std::max(1, box.height / p_.ksize));
          cv::resize(roi, small_, small, 0, 0, cv::INTER_AREA);
          cv::resize(small_, roi, roi.size(), 0, 0, cv::INTER_NEAREST);
          break;
        }
        case Method::kFill:
          roi.setTo(cv::Scalar::all(p_.color));
          break;
      }
    }
    return Status::ok();
  }

 private:
  Params p_;
  cv::Mat small_;
};

}  // namespace

CVPIPE_REGISTER_OP(BlurRegionsOp, "blur_regions", "blurs, pixelates or fills the detected regions (privacy)",
                   "- op: blur_regions\n  classes: [face]\n  method: gaussian\n  ksize: 31\n  padding: 0.1")

}  // namespace cvpipe
