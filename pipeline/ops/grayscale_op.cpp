// grayscale: converts BGR frames to one channel of luma.
//
//   - op: grayscale
//
// 3 channels: cv::cvtColor(in, out, cv::COLOR_BGR2GRAY). 1 channel: in.copyTo(out), so the op is
// idempotent and a chain may apply it twice.
#include <opencv2/imgproc.hpp>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class GrayscaleOp final : public Op {
 public:
  struct Params {};
  static constexpr bool kInPlace = false;

  static Params parse(ConfigReader&) { return {}; }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("grayscale expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok({in.width, in.height, CV_8UC1});
  }

  explicit GrayscaleOp(const Params&) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta&) override {
    if (in.channels() == 1)
      in.copyTo(out);
    else
      cv::cvtColor(in, out, cv::COLOR_BGR2GRAY);
    return Status::ok();
  }
};

}  // namespace

CVPIPE_REGISTER_OP(GrayscaleOp, "grayscale", "BGR to one-channel gray (1-channel input is copied)",
                   "- op: grayscale")

}  // namespace cvpipe
