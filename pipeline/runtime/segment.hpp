#pragma once
// Segment: the layout of the one memfd shared-memory segment that the daemon and every worker
// map. No pointers inside: offsets and indices only, so each process maps it anywhere.
//
//   SegmentHeader | SlotHeader[slots] | WorkerControl[worker_capacity] | rings | config text | frames
//
// The frames area holds `slots` slots of `buffers_per_slot` buffers of `buffer_bytes` each (the
// largest frame anywhere in the chain, rounded up to a page). Each worker control owns two rings
// of slot indices: `in` (daemon -> worker) and `out` (worker -> daemon).
//
// The daemon creates the segment before any worker starts; workers attach() and validate magic,
// version and sizes, and every slot index read from a ring is range-checked by its reader.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "pipeline/core/doorbell.hpp"
#include "pipeline/core/shared_memory.hpp"
#include "pipeline/core/spsc_ring.hpp"
#include "pipeline/core/frame.hpp"
#include "pipeline/runtime/run_stats.hpp"

namespace cvpipe {

inline constexpr std::uint32_t kSegmentMagic = 0x50505643;  // "CVPP"
inline constexpr std::uint32_t kSegmentVersion = 4;  // 4: SlotHeader::opencv_threads
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
  std::uint64_t in_ring_offset, out_ring_offset;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::is_trivially_copyable_v<WorkerControl>);

struct SegmentHeader {
  std::uint32_t magic, version;
  std::uint64_t total_bytes;
  std::uint32_t slot_count, buffers_per_slot;
  std::uint64_t buffer_bytes;
  std::uint32_t worker_capacity, ring_capacity;
  std::uint64_t slots_offset, workers_offset, config_offset, config_bytes, frames_offset;
  Doorbell router_bell;  // rung by workers after pushing to an `out` ring
};
static_assert(std::is_trivially_copyable_v<SegmentHeader>);

struct SegmentSizes {
  std::uint32_t slots = 0;
  std::uint32_t buffers_per_slot = 1;
  std::size_t frame_bytes = 0;
  std::uint32_t worker_capacity = 0;
  std::string config_text;  // the resolved config, read by workers
};

// A view of the mapped segment (create in the daemon, attach in workers). Owns the mapping.
class Segment {
 public:
  static Segment create(const SegmentSizes& sizes);
  // The bytes of each frame buffer for frames of up to `frame_bytes`: rounded up to a page.
  static std::size_t buffer_bytes_for(std::size_t frame_bytes) noexcept;
  // Validates everything it reads; throws std::runtime_error on a mismatch.
  static Segment attach(int fd);

  SegmentHeader& header() const noexcept { return *header_; }
  std::uint32_t slot_count() const noexcept { return header_->slot_count; }
  SlotHeader& slot(std::uint32_t i) const noexcept { return slots_[i]; }
  std::uint8_t* buffer(std::uint32_t slot, std::uint32_t which) const noexcept;
  WorkerControl& worker(std::uint32_t i) const noexcept { return workers_[i]; }
  SpscRing in_ring(std::uint32_t worker) const;
  SpscRing out_ring(std::uint32_t worker) const;
  std::string config_text() const;
  int fd() const noexcept { return memory_.fd(); }
  std::size_t size() const noexcept { return memory_.size(); }
  std::size_t frames_bytes() const noexcept;  // slots x buffers x buffer bytes
  // Resets a worker control (and its rings) for a new worker process. Daemon only, while no
  // process uses it.
  void reset_worker(std::uint32_t i);

 private:
  explicit Segment(SharedMemory memory);
  SharedMemory memory_;
  SegmentHeader* header_ = nullptr;
  SlotHeader* slots_ = nullptr;
  WorkerControl* workers_ = nullptr;
  std::uint8_t* base_ = nullptr;
};

}  // namespace cvpipe
