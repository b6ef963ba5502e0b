// sobel: Sobel derivative of each channel, saturated to 8 bits.
//
//   - op: sobel
//     dx: 1        # order of the x derivative, integer in [0, 2]; default 1
//     dy: 0        # order of the y derivative, integer in [0, 2]; default 0; dx + dy >= 1
//     ksize: 3     # 1, 3, 5 or 7; default 3 (1: a 3x1 or 1x3 kernel without smoothing)
//     scale: 1     # multiplies the derivative; default 1
//     delta: 0     # added after scaling; default 0
//
// Exactly cv::Sobel(in, out, CV_8U, dx, dy, ksize, scale, delta, cv::BORDER_DEFAULT): the output
// has the input's channels, and as in OpenCV with ddepth CV_8U, values saturate, so negative
// gradients become 0 (use delta: 128 and scale: 0.5 to see both signs).
#include <opencv2/imgproc.hpp>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class SobelOp final : public Op {
 public:
  struct Params {
    int dx = 1;
    int dy = 0;
    int ksize = 3;
    double scale = 1;
    double delta = 0;
  };
  static constexpr bool kInPlace = false;

  static Params parse(ConfigReader& r) {
    Params p;
    p.dx = static_cast<int>(r.integer("dx", 1, 0, 2));
    p.dy = static_cast<int>(r.integer("dy", 0, 0, 2));
    p.ksize = static_cast<int>(r.odd_integer("ksize", 3, 1, 7));
    p.scale = r.number("scale", 1);
    p.delta = r.number("delta", 0);
    r.document_rule("dy", "dx + dy >= 1");
    if (!r.describing() && p.dx == 0 && p.dy == 0) {
      r.fail(r.has("dx") ? "dx" : "dy", "expected dx or dy >= 1, got both 0");
    }
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("sobel expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit SobelOp(const Params& p) : p_(p) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta&) override {
    cv::Sobel(in, out, CV_8U, p_.dx, p_.dy, p_.ksize, p_.scale, p_.delta, cv::BORDER_DEFAULT);
    return Status::ok();
  }

 private:
  Params p_;
};

}  // namespace

CVPIPE_REGISTER_OP(SobelOp, "sobel", "Sobel derivative, saturated to 8 bits",
                   "- op: sobel\n  dx: 0\n  dy: 1\n  ksize: 5\n  scale: 0.5\n  delta: 128")

}  // namespace cvpipe
