#include "pipeline/runtime/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <sstream>
#include <string_view>
#include <vector>

#include "pipeline/core/clock.hpp"

namespace cvpipe {
namespace {

// A loop that has not turned for this long is stuck (both turn at least every second).
constexpr double kLoopStallSeconds = 5;

// Latency bucket bounds, seconds.
const std::vector<double> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,    1,     2.5,  5,     10,   30};

double seconds_between(std::int64_t then_ns, std::int64_t now_ns) { return static_cast<double>(now_ns - then_ns) / 1e9; }

// The shortest text that reads back as `v` exactly: a counter past 10^9 or the start time keeps
// every digit.
std::string num(double v) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, v);
  return ec == std::errc() ? std::string(text, end) : "NaN";
}

std::string fixed(double v, int digits) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void sample(const std::string& name, const std::string& labels, double value) {
    out_ << name;
    if (!labels.empty()) out_ << '{' << labels << '}';
    out_ << ' ' << num(value) << '\n';
  }
  void histogram(const std::string& name, const std::string& labels, const LatencyHistogram::Snapshot& h) {
    // The snapshot's count is the sum of its buckets: the series is monotonic.
    const std::uint64_t count = h.count;
    const std::vector<std::uint64_t> cumulative = h.cumulative(kLatencyBounds);
    const std::string sep = labels.empty() ? "" : ",";
    for (std::size_t i = 0; i < kLatencyBounds.size(); ++i)
      sample(name + "_bucket", labels + sep + "le=\"" + num(kLatencyBounds[i]) + "\"",
             static_cast<double>(std::min(cumulative[i], count)));
    sample(name + "_bucket", labels + sep + "le=\"+Inf\"", static_cast<double>(count));
    sample(name + "_sum", labels, static_cast<double>(h.sum_ns) / 1e9);
    sample(name + "_count", labels, static_cast<double>(count));
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

std::string stage_label(const StageSnapshot& s) { return "stage=\"" + s.name + "\""; }  // names are [A-Za-z0-9_-]

// When this process started, in seconds since the epoch (to the kernel's 10 ms); worked out once.
double process_start_time_s() {
  static const double start = [] {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const double ms = ms_since_process_start();
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9 - (ms > 0 ? ms / 1000 : 0);
  }();
  return start;
}

// A label value as the text format wants it: backslash, double quote and newline escaped.
std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

double value(std::uint64_t v) { return static_cast<double>(v); }

}  // namespace

std::string prometheus_metrics(const RunSnapshot& now, bool inline_mode) {
  Exposition e;
  e.family("cvpipe_frames_read_total", "counter", "Frames read from the source.");
  e.sample("cvpipe_frames_read_total", "", value(now.read));
  e.family("cvpipe_frames_written_total", "counter", "Frames written to the sink.");
  e.sample("cvpipe_frames_written_total", "", value(now.written));
  e.family("cvpipe_frames_dropped_total", "counter", "Frames read but not written, by reason.");
  for (std::size_t r = 1; r < static_cast<std::size_t>(DropReason::kCount); ++r)
    e.sample("cvpipe_frames_dropped_total", std::string("reason=\"") + drop_reason_name(static_cast<DropReason>(r)) + "\"",
             value(now.dropped[r]));
  e.family("cvpipe_frames_missed_by_source_total", "counter", "Frames a live source produced that were never read.");
  e.sample("cvpipe_frames_missed_by_source_total", "", value(now.missed_by_source));
  e.family("cvpipe_source_reconnects_total", "counter", "Times a lost live source was opened again.");
  e.sample("cvpipe_source_reconnects_total", "", value(now.reconnects));
  e.family("cvpipe_latency_seconds", "histogram", "Capture to write latency of the frames written.");
  e.histogram("cvpipe_latency_seconds", "", now.latency);
  e.family("cvpipe_shm_slots", "gauge", "Frame slots in the shared-memory segment.");
  e.sample("cvpipe_shm_slots", "", value(now.slots));
  e.family("cvpipe_shm_slots_in_use", "gauge", "Frame slots holding a frame on its way through the pipeline.");
  e.sample("cvpipe_shm_slots_in_use", "", value(now.slots_in_use));
  e.family("cvpipe_stage_frames_processed_total", "counter", "Frames the stage's workers finished (failed ones too).");
  for (const auto& s : now.stages) e.sample("cvpipe_stage_frames_processed_total", stage_label(s), value(s.processed));
  e.family("cvpipe_stage_busy_seconds_total", "counter", "Time the stage's workers spent in ops.");
  for (const auto& s : now.stages) e.sample("cvpipe_stage_busy_seconds_total", stage_label(s), value(s.busy_ns) / 1e9);
  e.family("cvpipe_stage_queue_depth", "gauge", "Frames waiting for a worker of the stage.");
  for (const auto& s : now.stages) e.sample("cvpipe_stage_queue_depth", stage_label(s), value(s.queue));
  e.family("cvpipe_stage_workers", "gauge", "Worker processes of the stage (0 with --inline).");
  for (const auto& s : now.stages) e.sample("cvpipe_stage_workers", stage_label(s), inline_mode ? 0 : s.workers);
  e.family("cvpipe_stage_worker_restarts_total", "counter", "Workers of the stage started again after a crash or hang.");
  for (const auto& s : now.stages) e.sample("cvpipe_stage_worker_restarts_total", stage_label(s), value(s.restarts));
  e.family("cvpipe_stage_latency_seconds", "histogram", "Time a frame spent in the stage's ops.");
  for (const auto& s : now.stages) e.histogram("cvpipe_stage_latency_seconds", stage_label(s), s.latency);
  e.family("cvpipe_detections_total", "counter", "Detections in the frames written, by class.");
  for (const auto& [name, count] : now.detections)
    e.sample("cvpipe_detections_total", "class=\"" + label_value(name) + "\"", value(count));
  e.family("cvpipe_detections_overflow_total", "counter", "Detections that did not fit their frame's slot (not counted above).");
  e.sample("cvpipe_detections_overflow_total", "", value(now.detections_overflow));
  e.family("cvpipe_build_info", "gauge", "Always 1; the version of cvpipe in its label.");
  e.sample("cvpipe_build_info", "version=\"" CVPIPE_VERSION "\"", 1);
  e.family("process_start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.");
  e.sample("process_start_time_seconds", "", process_start_time_s());
  return e.str();
}

Verdict liveness(const RunStats& stats, std::int64_t now_ns) {
  const std::int64_t main_loop = stats.main_loop_ns.load(std::memory_order_relaxed);
  const std::int64_t writer_loop = stats.writer_loop_ns.load(std::memory_order_relaxed);
  if (main_loop == 0) return {200, "ok: starting\n"};
  if (seconds_between(main_loop, now_ns) > kLoopStallSeconds)
    return {503, "main loop stalled for " + fixed(seconds_between(main_loop, now_ns), 1) + " s\n"};
  if (writer_loop != 0 && seconds_between(writer_loop, now_ns) > kLoopStallSeconds)
    return {503, "writer loop stalled for " + fixed(seconds_between(writer_loop, now_ns), 1) + " s\n"};
  return {200, "ok\n"};
}

Verdict readiness(const RunStats& stats, double window_s, std::int64_t now_ns) {
  const std::int64_t started = stats.started_ns.load(std::memory_order_relaxed);
  if (stats.waiting_for_source.load(std::memory_order_relaxed))
    return {503, "not ready: waiting for the source, which could not be opened (reconnect.at_start)\n"};
  if (started == 0) return {503, "not ready: starting (workers loading)\n"};
  if (stats.finished.load(std::memory_order_relaxed)) return {503, "not ready: the run is finishing\n"};
  const std::int64_t written = stats.last_written_ns.load(std::memory_order_relaxed);
  const std::int64_t read = stats.last_read_ns.load(std::memory_order_relaxed);
  const std::int64_t since = std::max(written, started);
  const double idle = seconds_between(since, now_ns);
  if (idle <= window_s) return {200, written != 0 ? "ok\n" : "ok: started, no frame written yet\n"};
  const std::string window = " (http.ready_window: " + num(window_s) + " s)\n";
  if (read <= since)
    return {503, "not ready: source stalled: no frame read for " + fixed(seconds_between(std::max(read, started), now_ns), 1) +
                     " s" + window};
  return {503, "not ready: writer stalled: frames read but none written for " + fixed(idle, 1) + " s" + window};
}

}  // namespace cvpipe
