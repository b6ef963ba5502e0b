// sleep (tests only, not listed by `cvpipe ops`): holds each frame for a fixed time, unchanged. It
// makes a stage slower than its source on purpose, to exercise back-pressure and drop policies;
// `open_ms` makes its workers slow to start.
//
//   - op: sleep
//     ms: 20
//     open_ms: 0
#include <opencv2/core.hpp>

#include <chrono>
#include <thread>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class SleepOp final : public Op {
 public:
  struct Params {
    double ms, open_ms;
  };
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader& r) { return {r.number("ms", 10, 0, 60'000), r.number("open_ms", 0, 0, 60'000)}; }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("sleep expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit SleepOp(const Params& p) : p_(p) {}

  Status open() override {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(p_.open_ms));
    return Status::ok();
  }

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta&) override {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(p_.ms));
    if (out.data != in.data) in.copyTo(out);
    return Status::ok();
  }

 private:
  Params p_;
};

}  // namespace

CVPIPE_REGISTER_TEST_OP(SleepOp, "sleep", "holds each frame for `ms` milliseconds (tests only)", "- op: sleep\n  ms: 20\n  open_ms: 0")

}  // namespace cvpipe
