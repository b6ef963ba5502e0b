// threshold: fixed-level (or Otsu) threshold of each channel.
//
//   - op: threshold
//     thresh: 127       # number in [0, 255]; default 127; ignored when otsu is true
//     max_value: 255    # value for binary and binary_inv, number in [0, 255]; default 255
//     type: binary      # binary | binary_inv | trunc | tozero | tozero_inv; default binary
//     otsu: false       # true: pick thresh per frame with Otsu's method (1-channel input only)
//
// Exactly cv::threshold(in, out, thresh, max_value, type | (otsu ? cv::THRESH_OTSU : 0)).
// In place: cv::threshold works element by element (its constant-result and copy shortcuts too),
// and the Otsu histogram is taken before anything is written; ops_test checks in-place results
// against out-of-place OpenCV for every type.
#include <opencv2/imgproc.hpp>

#include <string>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class ThresholdOp final : public Op {
 public:
  struct Params {
    double thresh = 127;
    double max_value = 255;
    int type = cv::THRESH_BINARY;
    bool otsu = false;
  };
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader& r) {
    Params p;
    p.thresh = r.number("thresh", 127, 0, 255);
    p.max_value = r.number("max_value", 255, 0, 255);
    const std::string type = r.choice("type", "binary", {"binary", "binary_inv", "trunc", "tozero", "tozero_inv"});
    if (type == "binary_inv") p.type = cv::THRESH_BINARY_INV;
    if (type == "trunc") p.type = cv::THRESH_TRUNC;
    if (type == "tozero") p.type = cv::THRESH_TOZERO;
    if (type == "tozero_inv") p.type = cv::THRESH_TOZERO_INV;
    p.otsu = r.boolean("otsu", false);
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params& p) {
    if (p.otsu && in.type != CV_8UC1)
      return FormatResult::fail("threshold with otsu: true expects 8-bit 1-channel input (add a grayscale op "
                                "before it), got " + in.describe());
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("threshold expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit ThresholdOp(const Params& p) : p_(p) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta&) override {
    cv::threshold(in, out, p_.thresh, p_.max_value, p_.type | (p_.otsu ? cv::THRESH_OTSU : 0));
    return Status::ok();
  }

 private:
  Params p_;
};

}  // namespace

CVPIPE_REGISTER_OP(ThresholdOp, "threshold", "fixed-level or Otsu threshold",
                   "- op: threshold\n  thresh: 100\n  max_value: 255\n  type: binary_inv\n  otsu: false")

}  // namespace cvpipe
