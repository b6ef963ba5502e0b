#include "pipeline/runtime/inline_stages.hpp"

#include <opencv2/core/utility.hpp>

#include <algorithm>
#include <stdexcept>

#include "pipeline/core/clock.hpp"

namespace cvpipe {

InlineStages::InlineStages(const PipelineConfig& config, Segment& segment, RunStats& stats)
    : config_(config), segment_(segment), stats_(stats) {
  int threads = 1;
  for (const auto& stage : config_.stages) threads = std::max(threads, stage.opencv_threads);
  cv::setNumThreads(threads);
  for (const auto& stage : config_.stages) {
    auto chain = std::make_unique<OpChain>(stage.ops, stage.input);
    if (Status s = chain->open(); !s) throw std::runtime_error("stage " + stage.name + ": " + s.message());
    chains_.push_back(std::move(chain));
  }
}

DropReason InlineStages::run(std::uint32_t slot) {
  SlotHeader& h = segment_.slot(slot);
  std::uint8_t* const buffers[2] = {segment_.buffer(slot, 0),
                                    segment_.buffer(slot, segment_.buffers_per_slot() == 2 ? 1 : 0)};
  int current = 0;
  DropReason reason = DropReason::kNone;
  for (std::size_t s = 0; s < chains_.size() && reason == DropReason::kNone; ++s) {
    const std::int64_t start = monotonic_ns();
    const double max_ms = config_.stages[s].max_latency_ms;
    if (max_ms > 0 && start - h.meta.capture_ns > static_cast<std::int64_t>(max_ms * 1e6)) {
      reason = DropReason::kTooOld;
      break;
    }
    const Status st = chains_[s]->run(buffers, current, h.meta);
    const std::int64_t took = monotonic_ns() - start;
    StageStats& stats = *stats_.stages[s];
    stats.busy_ns.fetch_add(static_cast<std::uint64_t>(took), std::memory_order_relaxed);
    stats.latency.add(took);
    stats.processed.fetch_add(1, std::memory_order_relaxed);
    if (!st) {
      reason = DropReason::kError;
      set_slot_error(h, st.message());
    }
  }
  h.buffer = static_cast<std::uint32_t>(current);
  if (reason == DropReason::kNone) {
    const FrameFormat& out = chains_.back()->output();
    h.width = out.width;
    h.height = out.height;
    h.type = out.type;
  }
  return reason;
}

}  // namespace cvpipe
