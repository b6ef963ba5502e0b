#pragma once
// What the HTTP endpoint answers from the run's counters: Prometheus text (/metrics), liveness
// (/healthz) and readiness (/readyz). Every function only reads RunStats' relaxed atomics or a
// snapshot of them: callable from any thread, never blocks the pipeline's threads. Allocates.
#include <cstdint>
#include <string>

#include "pipeline/runtime/run_report.hpp"
#include "pipeline/runtime/run_stats.hpp"

namespace cvpipe {

struct Verdict {
  int http_status;   // 200 or 503
  std::string body;  // "ok\n", or the reason
};

// Prometheus text exposition format 0.0.4; the names are in docs/operations.md.
std::string prometheus_metrics(const RunSnapshot& now, bool inline_mode);
// 503 when the main (signal) loop or the writer loop has not turned for 5 s.
Verdict liveness(const RunStats& stats, std::int64_t now_ns);
// 503 before frames may flow, or when no frame was written for `window_s` (the reason says
// whether the source or the writer stalled).
Verdict readiness(const RunStats& stats, double window_s, std::int64_t now_ns);

}  // namespace cvpipe
