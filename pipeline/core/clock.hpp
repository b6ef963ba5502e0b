#pragma once
// monotonic_ns(): CLOCK_MONOTONIC in nanoseconds, the one clock every process of a run shares
// (capture timestamps, latencies, hop times). A vDSO call: no system call, never blocks.
#include <time.h>

#include <cstdint>

namespace cvpipe {

inline std::int64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace cvpipe
