// bilateral: edge-preserving smoothing; neighbours count less the more their colour differs.
//
//   - op: bilateral
//     d: 9               # neighbourhood diameter, integer in [1, 50]; default 9
//     sigma_color: 75    # number > 0; default 75
//     sigma_space: 75    # number > 0; default 75
//
// Exactly cv::bilateralFilter(in, out, d, sigma_color, sigma_space, cv::BORDER_DEFAULT).
// OpenCV would derive the diameter from sigma_space when d <= 0; we ask for it explicitly (and cap
// it at 50: the cost grows with d squared). Not in place: OpenCV requires src and dst to differ.
#include <opencv2/imgproc.hpp>

#include <string>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class BilateralOp final : public Op {
 public:
  struct Params {
    int d = 9;
    double sigma_color = 75;
    double sigma_space = 75;
  };
  static constexpr bool kInPlace = false;

  static Params parse(ConfigReader& r) {
    Params p;
    p.d = static_cast<int>(r.integer("d", 9, 1, 50));
    p.sigma_color = r.positive_number("sigma_color", 75);
    p.sigma_space = r.positive_number("sigma_space", 75);
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("bilateral expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit BilateralOp(const Params& p) : p_(p) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta&) override {
    cv::bilateralFilter(in, out, p_.d, p_.sigma_color, p_.sigma_space, cv::BORDER_DEFAULT);
    return Status::ok();
  }

 private:
  Params p_;
};

}  // namespace

CVPIPE_REGISTER_OP(BilateralOp, "bilateral", "edge-preserving bilateral filter",
                   "- op: bilateral\n  d: 5\n  sigma_color: 50\n  sigma_space: 50")

}  // namespace cvpipe
