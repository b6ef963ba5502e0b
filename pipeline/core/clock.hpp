#pragma once
// monotonic_ns(): CLOCK_MONOTONIC in nanoseconds, the one clock every process of a run shares
// (capture timestamps, latencies, hop times). A vDSO call: no system call, never blocks. And the
// wall clock, for the capture times people read (the results file, annotate's clock: capture).
#include <time.h>

#include <cstdint>

namespace cvpipe {

inline std::int64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// CLOCK_REALTIME minus CLOCK_MONOTONIC, now: what turns a monotonic time into wall-clock time.
inline std::int64_t wall_clock_offset_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec - monotonic_ns();
}

// A monotonic time (a frame's capture_ns) on the wall clock, in ns since the epoch. Unsigned
// arithmetic: capture_ns comes through shared memory, and no value may overflow.
inline std::int64_t wall_clock_ns(std::int64_t monotonic, std::int64_t offset_ns) noexcept {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(monotonic) + static_cast<std::uint64_t>(offset_ns));
}

// Milliseconds since this process started (from /proc/self/stat, to the kernel's 10 ms), or -1
// when it cannot tell: what "first frame after N ms" counts from, the exec included.
double ms_since_process_start();

}  // namespace cvpipe
