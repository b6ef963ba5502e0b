// identity: passes each frame through unchanged; measures the pipeline's own overhead.
//
//   - op: identity
//
// In place: the runner hands it the input slot as the output, so process() does nothing. Given a
// separate output it copies (in.copyTo(out)), so it is correct either way.
#include <opencv2/core.hpp>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class IdentityOp final : public Op {
 public:
  struct Params {};
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader&) { return {}; }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("identity expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit IdentityOp(const Params&) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta&) override {
    if (out.data != in.data) in.copyTo(out);
    return Status::ok();
  }
};

}  // namespace

CVPIPE_REGISTER_OP(IdentityOp, "identity", "passes frames through unchanged (measures overhead)",
                   "- op: identity")

}  // namespace cvpipe
