// crash (tests only, not listed by `cvpipe ops`): makes the worker running it die or hang, so
// crash recovery is tested on the real path. Frames it lets through are unchanged.
//
//   - op: crash
//     every: 50     # on every 50th frame this worker process handles (a transient fault), or
//     seq: 17       # on the frame with this sequence number, whichever worker runs it (a poison frame)
//     how: segv     # segv | abort | exit | hang
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <opencv2/core.hpp>

#include <cstdlib>
#include <optional>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class CrashOp final : public Op {
 public:
  struct Params {
    std::int64_t every = 0;  // 0: off
    std::int64_t seq = -1;   // -1: off
    std::string how;
  };
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader& r) {
    Params p;
    const auto every = r.optional_integer("every", 1, 1'000'000'000);
    const auto seq = r.optional_integer("seq", 0);
    p.how = r.choice("how", "segv", {"segv", "abort", "exit", "hang"});
    if (!r.describing() && every.has_value() == seq.has_value())
      r.fail_here("crash needs exactly one of `every` (every Nth frame of a worker) or `seq` (one frame)");
    p.every = every.value_or(0);
    p.seq = seq.value_or(-1);
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("crash expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit CrashOp(const Params& p) : p_(p) {}

  Status open() override {
    // A test crashes workers on purpose: no core files.
    const rlimit none{0, 0};
    setrlimit(RLIMIT_CORE, &none);
    return Status::ok();
  }

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    ++handled_;
    const bool now = p_.every > 0 ? handled_ % p_.every == 0 : static_cast<std::int64_t>(meta.seq) == p_.seq;
    if (now) fail();
    if (out.data != in.data) in.copyTo(out);
    return Status::ok();
  }

 private:
  [[noreturn]] void fail() const {
    if (p_.how == "abort") std::abort();
    if (p_.how == "exit") std::_Exit(42);
    if (p_.how == "hang") {
      for (;;) pause();
    }
    ::raise(SIGSEGV);
    std::_Exit(139);  // not reached: SIGSEGV's default action ends the process
  }

  Params p_;
  std::int64_t handled_ = 0;
};

}  // namespace

CVPIPE_REGISTER_TEST_OP(CrashOp, "crash", "makes its worker die or hang (tests only)",
                        "- op: crash\n  every: 50   # or seq: 17\n  how: segv  # segv | abort | exit | hang")

}  // namespace cvpipe
