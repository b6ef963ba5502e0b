#pragma once
// Segment: the shared memory that the daemon and every worker map. No pointers inside: offsets and
// indices only, so each process maps it anywhere. Two memfds:
//
//   layout (sealed, read-only everywhere):  LayoutHeader | config text
//   frames (read-write):  router page | worker areas | slot areas
//
// The layout says where everything is. The daemon computes it and keeps its own copy; the memfd it
// writes it into is sealed against writing (F_SEAL_WRITE), so no process, whatever fd it holds, can
// change what a worker reads; a worker checks it once when it attaches and keeps its own copy too.
// Nothing that locates memory is ever read back from shared memory.
//
// The frames memfd holds the router's doorbell (rung by workers), one area per worker (its
// WorkerControl and its two rings of slot indices: `in`, daemon -> worker, and `out`), and one
// area per slot (its SlotHeader, then `buffers_per_slot` frame buffers of `buffer_bytes` each, the
// largest frame anywhere in the chain rounded up to a page). A guard page that no process may
// touch follows the slot header and each buffer, so that an op running past its frame faults
// instead of writing over another slot. A worker maps the other workers' areas without access.
//
// What a worker writes (a slot's header, its control, its rings) is checked by the daemon before
// use: every index, count and format. A broken invariant of the daemon's own is a bug and aborts.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "pipeline/core/doorbell.hpp"
#include "pipeline/core/frame.hpp"
#include "pipeline/core/shared_memory.hpp"
#include "pipeline/core/spsc_ring.hpp"

namespace cvpipe {

inline constexpr std::uint32_t kSegmentMagic = 0x50505643;  // "CVPP"
inline constexpr std::uint32_t kSegmentVersion = 5;  // 5: the layout sealed apart, guard pages, worker areas
inline constexpr std::uint32_t kNoSlot = 0xFFFFFFFFu;
inline constexpr std::uint32_t kStopWorker = 0xFFFFFFFEu;  // sent on a worker's `in` ring: finish and exit

// One frame in flight. Written by whoever holds the slot (capture, then one worker at a time,
// then the writer); handed over through a ring, whose release/acquire orders these plain fields.
struct SlotHeader {
  FrameMeta meta;
  std::int32_t width, height, type;  // the format of the frame now in the slot
  std::uint32_t buffer;              // which of the slot's buffers holds it (0 or 1)
  std::uint32_t drop;                // a DropReason set by a worker (error: `error` says why); 0: none
  std::uint32_t input_intact;        // 1 from dispatch until the worker first writes over the stage's input
                                     // (atomic_ref): a frame whose worker died is retried only while 1
  std::int64_t dispatched_ns;        // when the router last handed it to a worker (CLOCK_MONOTONIC)
  std::int64_t ops_ns;               // how long that worker's ops took on it
  std::int64_t started_ns;           // when that worker started its ops on it
  std::int64_t pickup_ns;            // from handed over (or the worker free, if later) to started
  std::uint32_t opencv_threads;      // 0: each worker runs its ops with its stage's `threads`; else with
                                     // these (the first frame of a clockless source, alone in the pipeline)
  char error[208];
};
static_assert(std::is_trivially_copyable_v<SlotHeader>);

// Marks the frame in `h` as failed (DropReason::kError) with `message`, cut to fit.
void set_slot_error(SlotHeader& h, std::string_view message);
// The error text in `h`, read safely whatever a worker left there (not NUL-terminated included).
std::string slot_error(const SlotHeader& h);

// One worker process's place in the segment. The daemon assigns it before spawning the worker.
struct WorkerControl {
  Doorbell bell;                             // rung by the daemon after pushing to `in`
  std::atomic<std::uint64_t> heartbeat;      // bumped by the worker on every loop turn
  std::atomic<std::uint32_t> current_slot;   // slot being processed, or kNoSlot
  std::atomic<std::int64_t> slot_started_ns;  // when it took current_slot (the frame deadline)
  std::atomic<std::uint32_t> ready;          // 1 once the worker has opened its ops
  std::atomic<std::uint64_t> frames_processed;
  std::atomic<std::uint64_t> frames_failed;
  std::atomic<std::uint64_t> busy_ns;        // time spent running ops
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::is_trivially_copyable_v<WorkerControl>);

// Where everything is, in bytes from the start of the frames memfd. A plain value that each process
// keeps in its own memory.
struct SegmentLayout {
  std::uint32_t slot_count, buffers_per_slot, worker_capacity, ring_capacity;
  std::uint64_t page;                           // the page size the layout was made for
  std::uint64_t buffer_bytes;                   // one frame buffer, a page multiple
  std::uint64_t ring_bytes;                     // one ring, a multiple of 64
  std::uint64_t workers_offset, worker_stride;  // worker i's area: WorkerControl, in ring, out ring
  std::uint64_t slots_offset, slot_stride;      // slot i's area: header, guard, (buffer, guard) x buffers
  std::uint64_t header_bytes;                   // a slot header's part of its area, a page multiple
  std::uint64_t total_bytes;                    // the frames memfd
};
static_assert(std::is_trivially_copyable_v<SegmentLayout>);

// The start of the layout memfd; the config text follows it.
struct LayoutHeader {
  std::uint32_t magic, version;
  SegmentLayout layout;
  std::uint64_t config_bytes;
};
static_assert(std::is_trivially_copyable_v<LayoutHeader>);

struct SegmentSizes {
  std::uint32_t slots = 0;
  std::uint32_t buffers_per_slot = 1;
  std::size_t frame_bytes = 0;
  std::uint32_t worker_capacity = 0;
  std::string config_text;  // the config as workers read it (its stages alone)
};

// The mapped segment. Owns both mappings. Accessors take indices the caller has checked
// (< slot_count(), < worker_capacity()); they never read the layout from shared memory.
class Segment {
 public:
  // The daemon's: both memfds made, the layout sealed. Throws std::system_error.
  static Segment create(const SegmentSizes& sizes);
  // A worker's, as worker `worker`: checks the layout (magic, version, sizes, that everything lies
  // inside the frames memfd) and throws std::runtime_error on any mismatch; maps the other workers'
  // areas without access.
  static Segment attach(int layout_fd, int frames_fd, std::uint32_t worker);
  // The bytes of each frame buffer for frames of up to `frame_bytes`: rounded up to a page.
  static std::size_t buffer_bytes_for(std::size_t frame_bytes) noexcept;

  const SegmentLayout& layout() const noexcept { return layout_; }
  std::uint32_t slot_count() const noexcept { return layout_.slot_count; }
  std::uint32_t buffers_per_slot() const noexcept { return layout_.buffers_per_slot; }
  std::uint32_t worker_capacity() const noexcept { return layout_.worker_capacity; }

  Doorbell& router_bell() const noexcept { return *reinterpret_cast<Doorbell*>(base_); }
  SlotHeader& slot(std::uint32_t i) const noexcept {
    return *reinterpret_cast<SlotHeader*>(base_ + layout_.slots_offset + i * layout_.slot_stride);
  }
  std::uint8_t* buffer(std::uint32_t slot, std::uint32_t which) const noexcept {
    return base_ + layout_.slots_offset + slot * layout_.slot_stride + layout_.header_bytes + layout_.page +
           which * (layout_.buffer_bytes + layout_.page);
  }
  WorkerControl& worker(std::uint32_t i) const noexcept {
    return *reinterpret_cast<WorkerControl*>(base_ + layout_.workers_offset + i * layout_.worker_stride);
  }
  // Views of worker i's rings, read from shared memory (a worker's view of its own).
  SpscRing in_ring(std::uint32_t worker) const;
  SpscRing out_ring(std::uint32_t worker) const;
  std::string config_text() const;
  int layout_fd() const noexcept { return layout_memory_.fd(); }
  int frames_fd() const noexcept { return frames_.fd(); }
  std::size_t size() const noexcept { return frames_.size(); }  // the frames memfd
  std::size_t frames_bytes() const noexcept;  // slots x buffers x buffer bytes

  // Resets worker i's control and rings for a new worker process; daemon only, while no process
  // uses it. Returns the daemon's views of the new rings, made from its own layout.
  struct Rings {
    SpscRing in, out;
  };
  Rings reset_worker(std::uint32_t i);

 private:
  Segment(SharedMemory layout_memory, SharedMemory frames, const SegmentLayout& layout);
  void protect_guard_pages() const;
  std::uint8_t* ring_memory(std::uint32_t worker, bool out) const noexcept {
    return base_ + layout_.workers_offset + worker * layout_.worker_stride + layout_.worker_stride -
           2 * layout_.ring_bytes + (out ? layout_.ring_bytes : 0);
  }

  SharedMemory layout_memory_;
  SharedMemory frames_;
  SegmentLayout layout_;
  std::uint8_t* base_ = nullptr;
};

}  // namespace cvpipe
