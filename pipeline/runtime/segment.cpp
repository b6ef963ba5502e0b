#include "pipeline/runtime/segment.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

namespace cvpipe {
namespace {

constexpr std::size_t kPage = 4096;
std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

std::uint32_t ring_capacity_for(std::uint32_t slots) {
  std::uint32_t c = 2;
  while (c < slots + 1) c *= 2;  // room for every slot plus a stop marker: a ring never fills
  return c;
}

}  // namespace

void set_slot_error(SlotHeader& h, std::string_view message) {
  h.drop = static_cast<std::uint32_t>(DropReason::kError);
  const std::size_t n = std::min(message.size(), sizeof(h.error) - 1);
  std::memcpy(h.error, message.data(), n);
  h.error[n] = '\0';
}

Segment::Segment(SharedMemory memory) : memory_(std::move(memory)) {
  base_ = static_cast<std::uint8_t*>(memory_.data());
  header_ = reinterpret_cast<SegmentHeader*>(base_);
}

std::size_t Segment::buffer_bytes_for(std::size_t frame_bytes) noexcept { return round_up(frame_bytes, kPage); }

Segment Segment::create(const SegmentSizes& sizes) {
  if (sizes.slots == 0 || sizes.frame_bytes == 0 || sizes.worker_capacity == 0)
    throw std::invalid_argument("segment: empty layout");
  const std::uint32_t ring_capacity = ring_capacity_for(sizes.slots);
  const std::size_t ring_bytes = round_up(SpscRing::bytes_for(ring_capacity), 64);
  SegmentHeader h{};
  h.magic = kSegmentMagic;
  h.version = kSegmentVersion;
  h.slot_count = sizes.slots;
  h.buffers_per_slot = sizes.buffers_per_slot;
  h.buffer_bytes = buffer_bytes_for(sizes.frame_bytes);
  h.worker_capacity = sizes.worker_capacity;
  h.ring_capacity = ring_capacity;
  std::size_t offset = round_up(sizeof(SegmentHeader), 64);
  h.slots_offset = offset;
  offset = round_up(offset + sizeof(SlotHeader) * sizes.slots, 64);
  h.workers_offset = offset;
  offset = round_up(offset + sizeof(WorkerControl) * sizes.worker_capacity, 64);
  const std::size_t rings_offset = offset;
  offset += ring_bytes * 2 * sizes.worker_capacity;
  h.config_offset = offset;
  h.config_bytes = sizes.config_text.size();
  offset = round_up(offset + h.config_bytes, kPage);
  h.frames_offset = offset;
  h.total_bytes = offset + h.buffer_bytes * h.buffers_per_slot * h.slot_count;

  Segment s(SharedMemory::create(h.total_bytes, "cvpipe-frames"));
  std::memcpy(static_cast<void*>(s.header_), static_cast<const void*>(&h), sizeof h);
  Doorbell::init(&s.header_->router_bell);
  s.slots_ = reinterpret_cast<SlotHeader*>(s.base_ + h.slots_offset);
  s.workers_ = reinterpret_cast<WorkerControl*>(s.base_ + h.workers_offset);
  for (std::uint32_t i = 0; i < h.slot_count; ++i) new (&s.slots_[i]) SlotHeader{};
  for (std::uint32_t w = 0; w < h.worker_capacity; ++w) {
    WorkerControl* c = new (&s.workers_[w]) WorkerControl{};
    c->in_ring_offset = rings_offset + ring_bytes * 2 * w;
    c->out_ring_offset = c->in_ring_offset + ring_bytes;
    s.reset_worker(w);
  }
  std::memcpy(s.base_ + h.config_offset, sizes.config_text.data(), h.config_bytes);
  return s;
}

Segment Segment::attach(int fd) {
  Segment s(SharedMemory::attach(fd));
  const SegmentHeader& h = *s.header_;
  if (s.memory_.size() < sizeof(SegmentHeader) || h.magic != kSegmentMagic)
    throw std::runtime_error("shared segment: bad magic");
  if (h.version != kSegmentVersion)
    throw std::runtime_error("shared segment: version " + std::to_string(h.version) + ", expected " +
                             std::to_string(kSegmentVersion));
  const std::size_t frames = h.buffer_bytes * h.buffers_per_slot * h.slot_count;
  if (h.total_bytes != s.memory_.size() || h.frames_offset + frames != h.total_bytes ||
      h.slots_offset + sizeof(SlotHeader) * h.slot_count > h.workers_offset ||
      h.config_offset + h.config_bytes > h.frames_offset || h.buffers_per_slot < 1 || h.buffers_per_slot > 2)
    throw std::runtime_error("shared segment: inconsistent layout");
  s.slots_ = reinterpret_cast<SlotHeader*>(s.base_ + h.slots_offset);
  s.workers_ = reinterpret_cast<WorkerControl*>(s.base_ + h.workers_offset);
  for (std::uint32_t w = 0; w < h.worker_capacity; ++w) {
    const WorkerControl& c = s.workers_[w];
    if (c.out_ring_offset + SpscRing::bytes_for(h.ring_capacity) > h.config_offset)
      throw std::runtime_error("shared segment: ring out of bounds");
  }
  return s;
}

std::uint8_t* Segment::buffer(std::uint32_t slot, std::uint32_t which) const noexcept {
  const SegmentHeader& h = *header_;
  return base_ + h.frames_offset + (static_cast<std::size_t>(slot) * h.buffers_per_slot + which) * h.buffer_bytes;
}

SpscRing Segment::in_ring(std::uint32_t worker) const { return SpscRing::attach(base_ + workers_[worker].in_ring_offset); }
SpscRing Segment::out_ring(std::uint32_t worker) const { return SpscRing::attach(base_ + workers_[worker].out_ring_offset); }

std::string Segment::config_text() const {
  return std::string(reinterpret_cast<const char*>(base_ + header_->config_offset), header_->config_bytes);
}

std::size_t Segment::frames_bytes() const noexcept {
  return header_->buffer_bytes * header_->buffers_per_slot * header_->slot_count;
}

void Segment::reset_worker(std::uint32_t i) {
  WorkerControl& c = workers_[i];
  Doorbell::init(&c.bell);
  c.heartbeat.store(0);
  c.current_slot.store(kNoSlot);
  c.slot_started_ns.store(0);
  c.ready.store(0);
  c.frames_processed.store(0);
  c.frames_failed.store(0);
  c.busy_ns.store(0);
  SpscRing::create(base_ + c.in_ring_offset, header_->ring_capacity);
  SpscRing::create(base_ + c.out_ring_offset, header_->ring_capacity);
}

}  // namespace cvpipe
