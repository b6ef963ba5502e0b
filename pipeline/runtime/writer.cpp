#include "pipeline/runtime/writer.hpp"

#include <chrono>
#include <cstdlib>
#include <utility>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/runtime/reorder_buffer.hpp"

namespace cvpipe {

Writer::Writer(FrameFormat output_format, Segment& segment, SlotQueue& free_slots, const SlotOrder& order,
               FirstFrameOut& first_out, RunStats& stats, std::function<void(int, const std::string&)> fatal)
    : output_format_(output_format),
      segment_(segment),
      free_slots_(free_slots),
      order_(order),
      first_out_(first_out),
      stats_(stats),
      fatal_(std::move(fatal)) {}

void Writer::deliver(std::uint32_t slot, DropReason reason) { queue_.enqueue(Item{slot, reason}); }

void Writer::end() { queue_.enqueue(Item{}); }

void Writer::run(const Outputs& outputs) {
  RateLimitedLog drops;
  ReorderBuffer<Item> reorder(segment_.slot_count());
  for (;;) {
    Item item;
    stats_.writer_loop_ns.store(monotonic_ns(), std::memory_order_relaxed);
    if (!queue_.wait_dequeue_timed(item, std::chrono::milliseconds(200))) continue;
    if (item.slot == kNoSlot) break;
    if (item.slot >= segment_.slot_count()) {
      log_->critical("slot index {} out of range", item.slot);
      std::abort();
    }
    const SlotHeader& h = segment_.slot(item.slot);
    if (item.reason == DropReason::kError)
      drops.warn(*log_, "frame dropped reason=error seq={} error=\"{}\"", h.meta.seq, slot_error(h));
    else if (item.reason == DropReason::kWorkerCrash)
      drops.warn(*log_, "frame dropped reason=worker_crash seq={}", h.meta.seq);
    reorder.insert(order_[item.slot], item);
    while (auto next = reorder.pop_next()) write_one(*next, outputs);
  }
  if (reorder.size() != 0) {
    log_->critical("{} frames still waiting for frame #{} at the end of the run", reorder.size(), reorder.next_seq());
    std::abort();
  }
  stats_.finished.store(true);
}

void Writer::write_one(const Item& item, const Outputs& outputs) {
  if (!first_out_set_) {
    first_out_set_ = true;
    first_out_.set();
  }
  SlotHeader& h = segment_.slot(item.slot);
  DropReason reason = item.reason;
  if (reason == DropReason::kNone && output_failed_) reason = DropReason::kAborted;
  if (reason == DropReason::kNone) {
    // Written by a worker process: checked before it is used to read the slot.
    const FrameFormat f{h.width, h.height, h.type};
    if (f != output_format_ || h.buffer >= segment_.buffers_per_slot()) {
      set_slot_error(h, "the slot holds a " + f.describe() + " frame in buffer " + std::to_string(h.buffer) +
                            ", expected " + output_format_.describe());
      reason = DropReason::kError;
      log_->error("frame dropped reason=error seq={} error=\"{}\"", h.meta.seq, slot_error(h));
    }
  }
  if (reason == DropReason::kNone) {
    const cv::Mat frame(output_format_.height, output_format_.width, output_format_.type,
                        segment_.buffer(item.slot, h.buffer));
    if (outputs.http && outputs.http->wants_frame(monotonic_ns())) outputs.http->offer_frame(frame);
    if (Status s = outputs.sink->write(frame, h.meta); !s) {
      output_failed_ = true;
      reason = DropReason::kAborted;
      fatal_(kExitCantCreate, "output error, stopping: " + s.message());
    } else {
      if (outputs.results) {
        if (Status r = outputs.results->write(h.meta); !r) {
          output_failed_ = true;  // this frame is in the video; the ones after it are not written
          fatal_(kExitCantCreate, "output error, stopping: " + r.message());
        }
      }
      stats_.detections.add(h.meta.detections);
      const std::int64_t now = monotonic_ns();
      stats_.latency.add(now - h.meta.capture_ns);
      stats_.last_written_ns.store(now, std::memory_order_relaxed);
      if (stats_.written.fetch_add(1, std::memory_order_relaxed) == 0) {
        const double after_ms = ms_since_process_start();
        stats_.first_written_ns.store(now, std::memory_order_relaxed);
        stats_.first_frame_ms.store(after_ms, std::memory_order_relaxed);
        get_logger("cvpipe")->info("first frame written after_ms={:.0f} (since the process started)", after_ms);
      }
    }
  }
  if (reason != DropReason::kNone) stats_.count_drop(reason);
  stats_.slots_in_use.fetch_sub(1, std::memory_order_relaxed);
  free_slots_.enqueue(item.slot);
}

}  // namespace cvpipe
