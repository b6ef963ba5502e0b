// median_blur: replaces each pixel with the median of its ksize x ksize neighbourhood, per channel.
//
//   - op: median_blur
//     ksize: 5       # odd integer in [3, 255]; default 5
//
// Exactly cv::medianBlur(in, out, ksize). OpenCV takes any odd ksize for 8-bit frames (above 5 it
// switches to a histogram algorithm); 255 is our cap.
#include <opencv2/imgproc.hpp>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class MedianBlurOp final : public Op {
 public:
  struct Params {
    int ksize = 5;
  };
  static constexpr bool kInPlace = false;

  static Params parse(ConfigReader& r) {
    Params p;
    p.ksize = static_cast<int>(r.odd_integer("ksize", 5, 3, 255));
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("median_blur expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit MedianBlurOp(const Params& p) : p_(p) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta&) override {
    cv::medianBlur(in, out, p_.ksize);
    return Status::ok();
  }

 private:
  Params p_;
};

}  // namespace

CVPIPE_REGISTER_OP(MedianBlurOp, "median_blur", "median filter (removes salt-and-pepper noise)",
                   "- op: median_blur\n  ksize: 3")

}  // namespace cvpipe
