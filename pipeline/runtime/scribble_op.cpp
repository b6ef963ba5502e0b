// scribble (tests only, not listed by `cvpipe ops`): a buggy or hostile op, which writes where an op
// must not, once, on one frame, so that the daemon's defences are tested on the real path. Frames
// it lets through are unchanged. It lives with the runtime because it reads the segment's layout,
// which only the runtime may know.
//
//   - op: scribble
//     seq: 5             # the frame it scribbles on
//     target: overrun    # overrun | layout | other_worker | own_ring | slot_header
//
// overrun: past the end of its output buffer, into the guard page behind it; layout: into the
// sealed layout; other_worker: into another worker's control; own_ring: a forged entry in its
// `out` ring, an index no segment has; slot_header: its frame's drop code and error
// text, with values no worker may leave.
#include <signal.h>
#include <sys/resource.h>

#include <opencv2/core.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"
#include "pipeline/runtime/segment.hpp"

namespace cvpipe {
namespace {

// The lowest address of this process's mappings of the memfd named `name`, or null.
std::uint8_t* mapping_of(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  std::uintptr_t lowest = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/memfd:" + name + " ") == std::string::npos) continue;
    const std::uintptr_t start = std::strtoull(line.c_str(), nullptr, 16);
    if (!lowest || start < lowest) lowest = start;
  }
  return reinterpret_cast<std::uint8_t*>(lowest);
}

// This worker's control index, from its command line (--control N); nullopt outside a worker
// (--inline, a test running the op in its own process).
std::optional<std::uint32_t> own_control() {
  std::ifstream in("/proc/self/cmdline");
  std::string word, previous;
  bool worker = false;
  while (std::getline(in, word, '\0')) {
    worker = worker || word == "--worker";
    if (previous == "--control" && worker) return static_cast<std::uint32_t>(std::stoul(word));
    previous = word;
  }
  return std::nullopt;
}

class ScribbleOp final : public Op {
 public:
  struct Params {
    std::int64_t seq;
    std::string target;
  };
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader& r) {
    return {r.integer("seq", 0, 0),
            r.choice("target", "overrun", {"overrun", "layout", "other_worker", "own_ring", "slot_header"})};
  }
  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("scribble expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }
  explicit ScribbleOp(const Params& p) : p_(p) {}

  Status open() override {
    const rlimit none{0, 0};  // it faults on purpose: no core files
    setrlimit(RLIMIT_CORE, &none);
    return Status::ok();
  }

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    if (static_cast<std::int64_t>(meta.seq) == p_.seq) scribble(out);
    if (out.data != in.data) in.copyTo(out);
    return Status::ok();
  }

 private:
  void scribble(cv::Mat& out) const {
    const std::optional<std::uint32_t> worker = own_control();
    std::uint8_t* const layout_memory = mapping_of("cvpipe-layout");
    std::uint8_t* const base = mapping_of("cvpipe-frames");
    if (!worker || !layout_memory || !base) return;  // not in a worker: nothing to scribble on
    LayoutHeader h;
    std::memcpy(&h, layout_memory, sizeof h);
    const SegmentLayout& l = h.layout;
    const std::uint32_t control = *worker;
    const std::uint32_t slot = static_cast<std::uint32_t>((out.data - base - l.slots_offset) / l.slot_stride);
    if (p_.target == "overrun") {
      out.data[l.buffer_bytes] = 1;
    } else if (p_.target == "layout") {
      layout_memory[0] = 1;
    } else if (p_.target == "other_worker") {
      base[l.workers_offset + ((control + 1) % l.worker_capacity) * l.worker_stride] = 1;
    } else if (p_.target == "own_ring") {
      // A forged entry: an index no segment has, where the next slot handed back would go.
      auto* ring = reinterpret_cast<SpscRingHeader*>(base + l.workers_offset + control * l.worker_stride +
                                                     l.worker_stride - l.ring_bytes);
      const std::uint64_t tail = ring->tail.load();
      reinterpret_cast<std::uint32_t*>(ring + 1)[tail & ring->mask] = 0x00BADBADu;
      ring->tail.store(tail + 1, std::memory_order_release);
    } else if (p_.target == "slot_header") {
      auto* header = reinterpret_cast<SlotHeader*>(base + l.slots_offset + slot * l.slot_stride);
      header->drop = 77;
      std::memset(header->error, 'x', sizeof header->error);
    }
  }

  Params p_;
};

}  // namespace

CVPIPE_REGISTER_TEST_OP(ScribbleOp, "scribble", "writes where an op must not, once (tests only)",
                        "- op: scribble\n  seq: 5\n  target: overrun   # overrun | layout | other_worker | own_ring | "
                        "slot_header")

}  // namespace cvpipe
