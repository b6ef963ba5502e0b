#include "pipeline/runtime/capture.hpp"

#include <chrono>
#include <utility>

#include "pipeline/core/clock.hpp"

namespace cvpipe {

Capture::Capture(Options options, Source& source, Segment& segment, SlotQueue& free_slots, SlotOrder& order,
                 FirstFrameOut& first_out, RunStats& stats, Hooks hooks)
    : options_(options),
      source_(source),
      segment_(segment),
      free_slots_(free_slots),
      order_(order),
      first_out_(first_out),
      stats_(stats),
      hooks_(std::move(hooks)) {}

cv::Mat Capture::slot_frame(std::uint32_t slot) const {
  const FrameFormat& f = options_.format;
  return cv::Mat(f.height, f.width, f.type, segment_.buffer(slot, 0));
}

Source::Read Capture::read(cv::Mat& into, std::uint64_t seq, FrameMeta& meta, std::string& error) {
  meta.seq = seq;
  const Source::Read r = source_.read(into, meta, error);
  if (r != Source::Read::kFrame) return r;
  // The source's own capture time if it has one (a paced source), else now.
  if (meta.capture_ns == 0) meta.capture_ns = monotonic_ns();
  stats_.read.fetch_add(1, std::memory_order_relaxed);
  stats_.last_read_ns.store(monotonic_ns(), std::memory_order_relaxed);
  return r;
}

void Capture::read_first_frame() {
  cv::Mat into = slot_frame(kFirstFrameSlot);
  FrameMeta meta;
  std::string error;
  expect_first_frame(read(into, 0, meta, error), error, options_.description);
  first_frame_ = meta;
}

void Capture::enter(std::uint32_t slot, const FrameMeta& meta, std::uint32_t opencv_threads) {
  SlotHeader& h = segment_.slot(slot);
  stats_.slots_in_use.fetch_add(1, std::memory_order_relaxed);
  h.meta = meta;
  order_[slot] = entered_++;
  h.width = options_.format.width;
  h.height = options_.format.height;
  h.type = options_.format.type;
  h.buffer = 0;
  h.drop = 0;
  h.opencv_threads = opencv_threads;
  h.error[0] = '\0';
  hooks_.hand_over(slot);
}

void Capture::stop() noexcept {
  stop_.store(true);
  source_.interrupt();
}

bool Capture::finished(std::uint64_t& entered) const noexcept {
  if (!finished_.load(std::memory_order_acquire)) return false;
  entered = entered_;
  return true;
}

void Capture::run() {
  const DropPolicy policy = options_.policy;
  cv::Mat spare, held;  // a frame read with no slot free; the newest such frame, under drop_oldest
  if (policy != DropPolicy::kBlock) {
    spare.create(options_.format.height, options_.format.width, options_.format.type);
    held.create(options_.format.height, options_.format.width, options_.format.type);
  }
  FrameMeta held_meta;
  bool have_held = false;
  std::uint64_t seq = 0;
  bool holding_back = options_.hold_back_until_first_out;
  if (first_frame_) {
    enter(kFirstFrameSlot, *first_frame_, holding_back ? options_.first_frame_threads : 0);
    seq = 1;
  }
  while (!stop_.load(std::memory_order_relaxed)) {
    if (holding_back) {
      if (!first_out_.wait_for(std::chrono::milliseconds(100))) continue;
      holding_back = false;
    }
    std::uint32_t slot = kNoSlot;
    if (policy == DropPolicy::kBlock) {
      if (!free_slots_.wait_dequeue_timed(slot, std::chrono::milliseconds(100))) continue;
    } else if (!free_slots_.try_dequeue(slot)) {
      slot = kNoSlot;
    }
    if (slot != kNoSlot && have_held) {
      held.copyTo(slot_frame(slot));
      have_held = false;
      enter(slot, held_meta);
      continue;
    }
    FrameMeta meta;
    cv::Mat into = slot != kNoSlot ? slot_frame(slot) : spare;
    std::string error;
    const Source::Read r = read(into, seq, meta, error);
    if (r != Source::Read::kFrame) {
      if (slot != kNoSlot) free_slots_.enqueue(slot);
      if (r == Source::Read::kError) {
        log_->error("input error, stopping after {} frames: {}", seq, error);
        hooks_.input_failed(error);
      }
      break;
    }
    ++seq;
    if (slot != kNoSlot) {
      enter(slot, meta);
    } else if (policy == DropPolicy::kDropNewest) {
      stats_.count_drop(DropReason::kQueueFull);
    } else {
      if (have_held) stats_.count_drop(DropReason::kQueueFull);  // the older of the two
      std::swap(held, spare);
      held_meta = meta;
      have_held = true;
    }
  }
  if (have_held) {
    // Read, so it is in flight: it goes in as soon as the pipeline frees a slot (the writer
    // frees slots until the end, even when frames are being dropped).
    std::uint32_t slot;
    while (!free_slots_.wait_dequeue_timed(slot, std::chrono::milliseconds(100))) {
    }
    held.copyTo(slot_frame(slot));
    enter(slot, held_meta);
  }
  finished_.store(true, std::memory_order_release);
  log_->debug("capture finished frames={} into_pipeline={}", seq, entered_);
  hooks_.done();
}

}  // namespace cvpipe
