// gaussian_blur: smooths each frame with a square Gaussian kernel.
//
//   - op: gaussian_blur
//     ksize: 5       # odd integer in [1, 255]; default 5
//     sigma: 0       # number >= 0; default 0, which derives it from ksize
//
// Exactly cv::GaussianBlur(in, out, {ksize, ksize}, sigma, sigma, cv::BORDER_DEFAULT).
#include <opencv2/imgproc.hpp>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class GaussianBlurOp final : public Op {
 public:
  struct Params {
    int ksize = 5;
    double sigma = 0;
  };
  static constexpr bool kInPlace = false;

  static Params parse(ConfigReader& r) {
    Params p;
    p.ksize = static_cast<int>(r.odd_integer("ksize", 5, 1, 255));
    p.sigma = r.number("sigma", 0, 0);
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("gaussian_blur expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit GaussianBlurOp(const Params& p) : p_(p) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta&) override {
    cv::GaussianBlur(in, out, {p_.ksize, p_.ksize}, p_.sigma, p_.sigma, cv::BORDER_DEFAULT);
    return Status::ok();
  }

 private:
  Params p_;
};

}  // namespace

CVPIPE_REGISTER_OP(GaussianBlurOp, "gaussian_blur", "Gaussian smoothing",
                   "- op: gaussian_blur\n  ksize: 7\n  sigma: 1.5")

}  // namespace cvpipe
