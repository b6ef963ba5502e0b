#pragma once
// RunStats: counters of one run, shared by the daemon's threads (atomics, relaxed: they are
// figures, not synchronisation). What is shown of them (the stats line, --stats-json, the summary,
// /metrics) is rendered from a snapshot (run_report.hpp).
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/core/frame.hpp"

namespace cvpipe {

// Why a frame read from the source was not written. Every frame read is either written or
// counted under exactly one of these.
enum class DropReason : std::uint32_t {
  kNone = 0,
  kQueueFull,    // the queue in front of capture or a stage was full (drop_oldest / drop_newest)
  kTooOld,       // older than the stage's max_latency_ms when the stage would have started it
  kError,        // an op failed on the frame
  kWorkerCrash,  // the worker processing it died
  kAborted,      // the run was stopped (a fatal error, a second signal) before the frame was written
  kCount
};
const char* drop_reason_name(DropReason r);

// Latencies (capture to write, hops) in a fixed log-scale histogram: constant memory for any run
// length. One thread adds; any thread may read percentiles meanwhile (relaxed atomics: a reading
// taken during a run is approximate by a few frames, never torn).
class LatencyHistogram {
  // Buckets of 1/32 octave (2.2% wide) from 1 µs to about 1100 s: a percentile is its bucket's
  // upper edge, so it reads at most 2.2% above the true value.
  static constexpr int kSubBuckets = 32;
  static constexpr int kBuckets = 30 * kSubBuckets;

 public:
  using Counts = std::array<std::uint64_t, kBuckets>;

  // A copy taken at one moment: its count is the sum of its buckets, so it always agrees with them.
  struct Snapshot {
    Counts buckets{};
    std::uint64_t count = 0;
    std::uint64_t sum_ns = 0;
    double percentile_ms(double p) const { return LatencyHistogram::percentile_ms(buckets, p); }  // 0 when empty
    // Cumulative counts of the values at most `le_seconds[i]` (a bucket counts under the first bound
    // its upper edge fits, so a value is never counted below a bound it exceeds).
    std::vector<std::uint64_t> cumulative(const std::vector<double>& le_seconds) const;
    // The samples added between `earlier` and this one.
    Snapshot since(const Snapshot& earlier) const;
  };

  void add(std::int64_t ns);
  double percentile_ms(double p) const { return snapshot().percentile_ms(p); }  // 0 when empty
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  Snapshot snapshot() const;
  static double percentile_ms(const Counts& counts, double p);

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};
// The DropReason whose value is `code` (as a worker stores it in shared memory); kError for a
// value out of range, so a misbehaving worker cannot make the daemon index past its counters.
DropReason drop_reason_from_code(std::uint32_t code);

// Detections in the frames written, by class, and those that did not fit a frame. Added to by the
// writer thread, read by any (a mutex: the writer holds it once a frame with detections).
class DetectionCounts {
 public:
  void add(const Detections& detections);
  std::map<std::string, std::uint64_t, std::less<>> by_class() const;
  std::uint64_t overflow() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> by_class_;
  std::uint64_t overflow_ = 0;
};

struct StageStats {
  std::string name;
  std::atomic<int> workers{0};  // changes when a SIGHUP resizes the stage
  std::atomic<std::uint64_t> processed{0};      // frames the stage's workers finished (incl. failed)
  std::atomic<std::uint64_t> busy_ns{0};        // time the stage's workers spent in ops
  std::atomic<std::uint64_t> queue_depth{0};    // frames waiting for a worker of this stage
  std::atomic<std::uint64_t> restarts{0};
  std::atomic<std::uint64_t> retries{0};        // frames run again after their worker died
  LatencyHistogram latency;                     // time in the stage's ops, per frame (router thread)
};

struct RunStats {
  std::atomic<std::uint64_t> read{0};
  std::atomic<std::uint64_t> written{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(DropReason::kCount)> dropped{};
  std::vector<std::unique_ptr<StageStats>> stages;
  // The cost of one hop to a worker and back, less the worker's ops: router thread only, read
  // after it has joined.
  LatencyHistogram hop;
  // Capture to write, added to by the writer thread.
  LatencyHistogram latency;
  // Monotonic times (ns) of the last frame read and written, and of the last turn of the main
  // (signal) loop and the writer loop: what /healthz and /readyz read. 0: not yet.
  std::atomic<std::int64_t> last_read_ns{0}, last_written_ns{0}, main_loop_ns{0}, writer_loop_ns{0};
  std::atomic<std::int64_t> started_ns{0};  // when frames may start to flow (the workers are ready)
  std::atomic<std::uint64_t> slots_in_use{0}, slots_total{0};
  // The source's own counters, copied by the main loop (at most a second old).
  std::atomic<std::uint64_t> missed_by_source{0}, source_reconnects{0};
  std::atomic<bool> finished{false};  // the writer has seen the end of the run
  std::atomic<bool> waiting_for_source{false};  // before the run: a live source down at start
  std::atomic<std::int64_t> first_written_ns{0};  // when the first frame was written (monotonic)
  std::atomic<double> first_frame_ms{-1};  // and how long after the process started; -1: none yet
  DetectionCounts detections;

  std::uint64_t dropped_total() const;
  void count_drop(DropReason r) { dropped[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
};

}  // namespace cvpipe
