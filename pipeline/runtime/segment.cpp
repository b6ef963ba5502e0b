#include "pipeline/runtime/segment.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <system_error>

#include "pipeline/runtime/run_stats.hpp"

namespace cvpipe {
namespace {

std::uint64_t page_size() { return static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)); }
std::uint64_t round_up(std::uint64_t n, std::uint64_t to) { return (n + to - 1) / to * to; }

std::uint32_t ring_capacity_for(std::uint32_t slots) {
  std::uint32_t c = 2;
  while (c < slots + 1) c *= 2;  // room for every slot plus a stop marker: a ring never fills
  return c;
}

SegmentLayout layout_for(const SegmentSizes& sizes) {
  SegmentLayout l{};
  l.page = page_size();
  l.slot_count = sizes.slots;
  l.buffers_per_slot = sizes.buffers_per_slot;
  l.worker_capacity = sizes.worker_capacity;
  l.ring_capacity = ring_capacity_for(sizes.slots);
  l.buffer_bytes = round_up(sizes.frame_bytes, l.page);
  l.ring_bytes = round_up(SpscRing::bytes_for(l.ring_capacity), SpscRingHeader::kCacheLine);
  l.workers_offset = l.page;  // after the router's page
  l.worker_stride = round_up(round_up(sizeof(WorkerControl), SpscRingHeader::kCacheLine) + 2 * l.ring_bytes, l.page);
  l.slots_offset = l.workers_offset + l.worker_stride * l.worker_capacity;
  l.header_bytes = round_up(sizeof(SlotHeader), l.page);
  l.slot_stride = l.header_bytes + l.page + l.buffers_per_slot * (l.buffer_bytes + l.page);
  l.total_bytes = l.slots_offset + l.slot_stride * l.slot_count;
  return l;
}

// Whether a layout read from the layout memfd is one this process could have made, and lies inside
// a frames memfd of `frames_size` bytes. Overflow-safe: every product is checked before it is made.
std::string layout_error(const SegmentLayout& l, std::uint64_t frames_size) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  if (l.page != page_size()) return "page size";
  if (l.slot_count == 0 || l.slot_count >= kStopWorker || l.buffers_per_slot < 1 || l.buffers_per_slot > 2 ||
      l.worker_capacity == 0)
    return "counts";
  if (l.ring_capacity != ring_capacity_for(l.slot_count) ||
      l.ring_bytes != round_up(SpscRing::bytes_for(l.ring_capacity), SpscRingHeader::kCacheLine))
    return "rings";
  if (l.buffer_bytes == 0 || l.buffer_bytes % l.page != 0 || l.header_bytes != round_up(sizeof(SlotHeader), l.page))
    return "buffer sizes";
  if (l.workers_offset != l.page ||
      l.worker_stride != round_up(round_up(sizeof(WorkerControl), SpscRingHeader::kCacheLine) + 2 * l.ring_bytes, l.page))
    return "worker areas";
  if (l.worker_stride > kMax / l.worker_capacity ||
      l.slots_offset != l.workers_offset + l.worker_stride * l.worker_capacity)
    return "slot offset";
  if (l.buffer_bytes > (kMax - l.page) / 2 ||
      l.slot_stride != l.header_bytes + l.page + l.buffers_per_slot * (l.buffer_bytes + l.page))
    return "slot size";
  if (l.slot_stride > (kMax - l.slots_offset) / l.slot_count || l.total_bytes != l.slots_offset + l.slot_stride * l.slot_count ||
      l.total_bytes != frames_size)
    return "total size";
  return "";
}

}  // namespace

void set_slot_error(SlotHeader& h, std::string_view message) {
  h.drop = static_cast<std::uint32_t>(DropReason::kError);
  const std::size_t n = std::min(message.size(), sizeof(h.error) - 1);
  std::memcpy(h.error, message.data(), n);
  h.error[n] = '\0';
}

std::string slot_error(const SlotHeader& h) { return std::string(h.error, ::strnlen(h.error, sizeof(h.error))); }

Segment::Segment(SharedMemory layout_memory, SharedMemory frames, const SegmentLayout& layout)
    : layout_memory_(std::move(layout_memory)), frames_(std::move(frames)), layout_(layout) {
  base_ = static_cast<std::uint8_t*>(frames_.data());
}

std::size_t Segment::buffer_bytes_for(std::size_t frame_bytes) noexcept { return round_up(frame_bytes, page_size()); }

void Segment::protect_guard_pages() const {
  for (std::uint32_t s = 0; s < layout_.slot_count; ++s) {
    std::uint8_t* guard = base_ + layout_.slots_offset + s * layout_.slot_stride + layout_.header_bytes;
    for (std::uint32_t b = 0; b <= layout_.buffers_per_slot; ++b) {
      if (::mprotect(guard, layout_.page, PROT_NONE) != 0)
        throw std::system_error(errno, std::generic_category(), "mprotect a guard page of the segment");
      guard += layout_.page + layout_.buffer_bytes;
    }
  }
}

Segment Segment::create(const SegmentSizes& sizes) {
  if (sizes.slots == 0 || sizes.frame_bytes == 0 || sizes.worker_capacity == 0)
    throw std::invalid_argument("segment: empty layout");
  const SegmentLayout l = layout_for(sizes);
  LayoutHeader h{};
  h.magic = kSegmentMagic;
  h.version = kSegmentVersion;
  h.layout = l;
  h.config_bytes = sizes.config_text.size();
  std::string layout_text(reinterpret_cast<const char*>(&h), sizeof h);
  layout_text += sizes.config_text;

  Segment s(SharedMemory::create_sealed(layout_text, "cvpipe-layout"), SharedMemory::create(l.total_bytes, "cvpipe-frames"),
            l);
  Doorbell::init(&s.router_bell());
  for (std::uint32_t i = 0; i < l.slot_count; ++i) new (&s.slot(i)) SlotHeader{};
  for (std::uint32_t w = 0; w < l.worker_capacity; ++w) {
    new (&s.worker(w)) WorkerControl{};
    (void)s.reset_worker(w);
  }
  s.protect_guard_pages();
  return s;
}

Segment Segment::attach(int layout_fd, int frames_fd, std::uint32_t worker) {
  SharedMemory layout_memory = SharedMemory::attach(layout_fd, true);
  if (layout_memory.size() < sizeof(LayoutHeader)) throw std::runtime_error("shared segment: layout too short");
  LayoutHeader h;
  std::memcpy(&h, layout_memory.data(), sizeof h);
  if (h.magic != kSegmentMagic) throw std::runtime_error("shared segment: bad magic");
  if (h.version != kSegmentVersion)
    throw std::runtime_error("shared segment: version " + std::to_string(h.version) + ", expected " +
                             std::to_string(kSegmentVersion));
  if (h.config_bytes != layout_memory.size() - sizeof h) throw std::runtime_error("shared segment: config size");
  SharedMemory frames = SharedMemory::attach(frames_fd);
  if (const std::string bad = layout_error(h.layout, frames.size()); !bad.empty())
    throw std::runtime_error("shared segment: inconsistent layout (" + bad + ")");
  if (worker >= h.layout.worker_capacity)
    throw std::runtime_error("worker control " + std::to_string(worker) + " out of range");
  Segment s(std::move(layout_memory), std::move(frames), h.layout);
  s.protect_guard_pages();
  // The other workers' areas: no access. A worker that writes there faults.
  const SegmentLayout& l = s.layout_;
  const auto deny = [&](std::uint64_t from, std::uint64_t to) {
    if (to > from && ::mprotect(s.base_ + from, to - from, PROT_NONE) != 0)
      throw std::system_error(errno, std::generic_category(), "mprotect the other workers' areas");
  };
  deny(l.workers_offset, l.workers_offset + worker * l.worker_stride);
  deny(l.workers_offset + (worker + 1) * l.worker_stride, l.slots_offset);
  return s;
}

SpscRing Segment::in_ring(std::uint32_t worker) const { return SpscRing::attach(ring_memory(worker, false)); }
SpscRing Segment::out_ring(std::uint32_t worker) const { return SpscRing::attach(ring_memory(worker, true)); }

std::string Segment::config_text() const {
  const auto* bytes = static_cast<const char*>(layout_memory_.data());
  return std::string(bytes + sizeof(LayoutHeader), layout_memory_.size() - sizeof(LayoutHeader));
}

std::size_t Segment::frames_bytes() const noexcept {
  return layout_.buffer_bytes * layout_.buffers_per_slot * layout_.slot_count;
}

Segment::Rings Segment::reset_worker(std::uint32_t i) {
  WorkerControl& c = worker(i);
  Doorbell::init(&c.bell);
  c.heartbeat.store(0);
  c.current_slot.store(kNoSlot);
  c.slot_started_ns.store(0);
  c.ready.store(0);
  c.frames_processed.store(0);
  c.frames_failed.store(0);
  c.busy_ns.store(0);
  return {SpscRing::create(ring_memory(i, false), layout_.ring_capacity),
          SpscRing::create(ring_memory(i, true), layout_.ring_capacity)};
}

}  // namespace cvpipe
