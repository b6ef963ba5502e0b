// canny: Canny edge detector; 255 on edges, 0 elsewhere. Takes one-channel frames only (put a
// grayscale op before it).
//
//   - op: canny
//     low: 100            # hysteresis low threshold, number >= 0; default 100
//     high: 200           # hysteresis high threshold, number >= low; default 200
//     aperture: 3         # Sobel aperture: 3, 5 or 7; default 3
//     l2_gradient: false  # true: L2 gradient magnitude, false: L1; default false
//
// Exactly cv::Canny(in, out, low, high, aperture, l2_gradient).
#include <opencv2/imgproc.hpp>

#include <sstream>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class CannyOp final : public Op {
 public:
  struct Params {
    double low = 100;
    double high = 200;
    int aperture = 3;
    bool l2_gradient = false;
  };
  static constexpr bool kInPlace = false;

  static Params parse(ConfigReader& r) {
    Params p;
    p.low = r.number("low", 100, 0);
    p.high = r.number("high", 200, 0);
    p.aperture = static_cast<int>(r.odd_integer("aperture", 3, 3, 7));
    p.l2_gradient = r.boolean("l2_gradient", false);
    r.document_rule("high", ">= low");
    if (!r.describing() && p.high < p.low) {
      std::ostringstream why;
      why << "expected a number >= low (" << p.low << "), got " << p.high;
      r.fail("high", why.str());
    }
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (in.type != CV_8UC1)
      return FormatResult::fail("canny expects 8-bit 1-channel input (add a grayscale op before it), got " +
                                in.describe());
    return FormatResult::ok(in);
  }

  explicit CannyOp(const Params& p) : p_(p) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta&) override {
    cv::Canny(in, out, p_.low, p_.high, p_.aperture, p_.l2_gradient);
    return Status::ok();
  }

 private:
  Params p_;
};

}  // namespace

CVPIPE_REGISTER_OP(CannyOp, "canny", "Canny edge detector (1-channel input)",
                   "- op: canny\n  low: 50\n  high: 150\n  aperture: 3\n  l2_gradient: true")

}  // namespace cvpipe
