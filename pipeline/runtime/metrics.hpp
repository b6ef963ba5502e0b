#pragma once
// What the run's counters say, rendered for the outside: Prometheus text (/metrics), liveness
// (/healthz), readiness (/readyz) and a JSON snapshot (the status page, --stats-json). Every
// function only reads RunStats' relaxed atomics: callable from any thread, never blocks the
// pipeline's threads. Allocates.
#include <cstdint>
#include <string>

#include "pipeline/runtime/run_stats.hpp"

namespace cvpipe {

struct Verdict {
  int http_status;   // 200 or 503
  std::string body;  // "ok\n", or the reason
};

// Prometheus text exposition format 0.0.4; names in README "HTTP endpoint".
std::string prometheus_metrics(const RunStats& stats, bool inline_mode);
// 503 when the main (signal) loop or the writer loop has not turned for 5 s.
Verdict liveness(const RunStats& stats, std::int64_t now_ns);
// 503 before frames may flow, or when no frame was written for `window_s` (the reason says
// whether the source or the writer stalled).
Verdict readiness(const RunStats& stats, double window_s, std::int64_t now_ns);

// A stage's share of its workers' time spent in ops over an interval, from the growth of its
// busy_ns. At most 1: a frame's time is counted when it ends, so a long frame puts some of the
// interval before into this one. The stats line, --stats-json and the status page all use it.
double busy_share(std::uint64_t busy_ns_in_interval, double interval_s, int workers);

// One JSON object: {"t":..., "frames_read":..., ..., "stages":[{...}]}. `last` holds the previous
// snapshot's counters, so fps and busy shares are over the interval since; nullptr: since start.
struct StatsSnapshot {
  std::int64_t ns = 0;
  std::uint64_t read = 0, written = 0;
  std::vector<std::uint64_t> busy_ns, processed;
  LatencyHistogram::Counts latency{};  // capture to write, so far: the stats line's interval percentiles
};
StatsSnapshot take_snapshot(const RunStats& stats, std::int64_t now_ns);
// Seconds from `last` to `now`, at least a nanosecond (a rate over it is never a division by 0).
double interval_seconds(const StatsSnapshot& last, const StatsSnapshot& now);
// Stage `s`'s busy share from `last` to `now` (busy_share over the snapshots' busy_ns).
double stage_busy_share(const StatsSnapshot& last, const StatsSnapshot& now, std::size_t s, int workers);
std::string snapshot_json(const RunStats& stats, bool inline_mode, const StatsSnapshot& now, const StatsSnapshot& last,
                          std::int64_t total_frames);

}  // namespace cvpipe
