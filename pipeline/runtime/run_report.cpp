#include "pipeline/runtime/run_report.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <sstream>

#include "pipeline/core/errors.hpp"
#include "pipeline/core/json.hpp"

namespace cvpipe {
namespace {

constexpr std::int64_t kProgressEveryNs = 500'000'000;
constexpr std::size_t kDropReasons = static_cast<std::size_t>(DropReason::kCount);

std::string fixed(double v, int digits) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

double seconds_between(std::int64_t then_ns, std::int64_t now_ns) { return static_cast<double>(now_ns - then_ns) / 1e9; }

const char* reason_name(std::size_t r) { return drop_reason_name(static_cast<DropReason>(r)); }

}  // namespace

std::uint64_t RunSnapshot::dropped_total() const {
  std::uint64_t total = 0;
  for (std::uint64_t d : dropped) total += d;
  return total;
}

RunSnapshot RunSnapshot::zero_at(std::int64_t ns) {
  RunSnapshot s;
  s.ns = ns;
  return s;
}

RunSnapshot take_snapshot(const RunStats& stats, std::int64_t now_ns) {
  constexpr auto relaxed = std::memory_order_relaxed;
  RunSnapshot s;
  s.ns = now_ns;
  s.started_ns = stats.started_ns.load(relaxed);
  s.read = stats.read.load(relaxed);
  s.written = stats.written.load(relaxed);
  for (std::size_t r = 0; r < kDropReasons; ++r) s.dropped[r] = stats.dropped[r].load(relaxed);
  s.missed_by_source = stats.missed_by_source.load(relaxed);
  s.reconnects = stats.source_reconnects.load(relaxed);
  s.slots_in_use = stats.slots_in_use.load(relaxed);
  s.slots = stats.slots_total.load(relaxed);
  s.latency = stats.latency.snapshot();
  s.hop = stats.hop.snapshot();
  for (const auto& st : stats.stages) {
    StageSnapshot stage;
    stage.name = st->name;
    stage.workers = st->workers.load(relaxed);
    stage.processed = st->processed.load(relaxed);
    stage.busy_ns = st->busy_ns.load(relaxed);
    stage.queue = st->queue_depth.load(relaxed);
    stage.restarts = st->restarts.load(relaxed);
    stage.retries = st->retries.load(relaxed);
    stage.latency = st->latency.snapshot();
    s.stages.push_back(std::move(stage));
  }
  s.detections = stats.detections.by_class();
  s.detections_overflow = stats.detections.overflow();
  s.first_frame_ms = stats.first_frame_ms.load(relaxed);
  s.first_written_ns = stats.first_written_ns.load(relaxed);
  s.last_written_ns = stats.last_written_ns.load(relaxed);
  return s;
}

double interval_seconds(const RunSnapshot& last, const RunSnapshot& now) {
  return std::max(1e-9, seconds_between(last.ns, now.ns));
}

double busy_share(std::uint64_t busy_ns_in_interval, double interval_s, int workers) {
  return std::min(1.0, static_cast<double>(busy_ns_in_interval) /
                           (std::max(interval_s, 1e-9) * 1e9 * std::max(1, workers)));
}

double stage_busy_share(const RunSnapshot& last, const RunSnapshot& now, std::size_t s) {
  const std::uint64_t before = s < last.stages.size() ? last.stages[s].busy_ns : 0;
  return busy_share(now.stages[s].busy_ns - std::min(before, now.stages[s].busy_ns), interval_seconds(last, now),
                    now.stages[s].workers);
}

std::string dropped_text(const RunSnapshot& now) {
  std::string text = std::to_string(now.dropped_total());
  bool any_reason = false;
  for (std::size_t r = 1; r < kDropReasons; ++r)
    if (const std::uint64_t n = now.dropped[r]) {
      text += (any_reason ? " " : " (") + std::string(reason_name(r)) + '=' + std::to_string(n);
      any_reason = true;
    }
  if (any_reason) text += ')';
  return text;
}

std::string stats_line(const RunSnapshot& now, const RunSnapshot& last, bool inline_mode) {
  const double interval_s = interval_seconds(last, now);
  std::ostringstream line;
  line.setf(std::ios::fixed);
  line.precision(1);
  line << "stats read=" << now.read << " written=" << now.written << " dropped=" << dropped_text(now);
  if (now.missed_by_source) line << " missed_by_source=" << now.missed_by_source;
  line << " fps_in=" << static_cast<double>(now.read - last.read) / interval_s
       << " fps_out=" << static_cast<double>(now.written - last.written) / interval_s;
  // Capture-to-write latency of the frames written in this interval.
  if (now.written > last.written) {
    const LatencyHistogram::Snapshot latency = now.latency.since(last.latency);
    line << " latency_ms p50=" << latency.percentile_ms(50) << " p95=" << latency.percentile_ms(95)
         << " p99=" << latency.percentile_ms(99);
  }
  for (std::size_t s = 0; s < now.stages.size(); ++s) {
    const StageSnapshot& st = now.stages[s];
    line << " | " << st.name << " workers=" << (inline_mode ? 0 : st.workers)
         << " busy=" << stage_busy_share(last, now, s) * 100 << "%";
    if (!inline_mode) line << " queue=" << st.queue;
    line << " done=" << st.processed;
  }
  return line.str();
}

std::string stats_json(const RunSnapshot& now, const RunSnapshot& last, bool inline_mode, std::int64_t total_frames) {
  const double interval = interval_seconds(last, now);
  std::ostringstream j;
  j << "{\"elapsed_seconds\":" << fixed(now.started_ns ? seconds_between(now.started_ns, now.ns) : 0.0, 3)
    << ",\"frames_read\":" << now.read << ",\"frames_written\":" << now.written << ",\"frames_total\":" << total_frames
    << ",\"frames_dropped\":" << now.dropped_total() << ",\"dropped\":{";
  for (std::size_t r = 1; r < kDropReasons; ++r) j << (r > 1 ? "," : "") << "\"" << reason_name(r) << "\":" << now.dropped[r];
  j << "},\"fps_in\":" << fixed(static_cast<double>(now.read - last.read) / interval, 2)
    << ",\"fps_out\":" << fixed(static_cast<double>(now.written - last.written) / interval, 2)
    << ",\"latency_ms\":{\"p50\":" << fixed(now.latency.percentile_ms(50), 3)
    << ",\"p95\":" << fixed(now.latency.percentile_ms(95), 3) << ",\"p99\":" << fixed(now.latency.percentile_ms(99), 3)
    << "},\"slots_in_use\":" << now.slots_in_use << ",\"slots\":" << now.slots << ",\"detections\":{";
  bool first = true;
  for (const auto& [name, count] : now.detections) {
    j << (first ? "" : ",") << json_string(name) << ":" << count;
    first = false;
  }
  j << "},\"pid\":" << ::getpid() << ",\"version\":\"" CVPIPE_VERSION "\",\"stages\":[";
  for (std::size_t s = 0; s < now.stages.size(); ++s) {
    const StageSnapshot& st = now.stages[s];
    const std::uint64_t done_before = s < last.stages.size() ? last.stages[s].processed : 0;
    j << (s ? "," : "") << "{\"name\":" << json_string(st.name) << ",\"workers\":" << (inline_mode ? 0 : st.workers)
      << ",\"fps\":" << fixed(static_cast<double>(st.processed - std::min(done_before, st.processed)) / interval, 2)
      << ",\"busy\":" << fixed(stage_busy_share(last, now, s), 3) << ",\"queue\":" << st.queue
      << ",\"frames_processed\":" << st.processed << ",\"restarts\":" << st.restarts
      << ",\"latency_ms\":{\"p50\":" << fixed(st.latency.percentile_ms(50), 3)
      << ",\"p95\":" << fixed(st.latency.percentile_ms(95), 3) << "}}";
  }
  j << "]}";
  return j.str();
}

std::string progress_line(const RunSnapshot& now, const RunSnapshot& last, std::int64_t total_frames) {
  const double fps = static_cast<double>(now.written - last.written) / interval_seconds(last, now);
  const std::uint64_t done = now.written + now.dropped_total();
  const auto total = static_cast<std::uint64_t>(std::max<std::int64_t>(total_frames, 1));
  char eta[32] = "--:--";
  if (fps > 0 && done < total) {
    const auto s = static_cast<long>(static_cast<double>(total - done) / fps);
    std::snprintf(eta, sizeof eta, "%ld:%02ld", s / 60, s % 60);
  }
  char text[160];
  std::snprintf(text, sizeof text, "  %" PRIu64 "/%" PRIu64 " frames %3.0f%%  %.1f fps  ETA %s  dropped %" PRIu64, done,
                total, 100.0 * static_cast<double>(std::min(done, total)) / static_cast<double>(total), fps, eta,
                now.dropped_total());
  return text;
}

std::string summary_json(const RunSnapshot& end, double wall_seconds, bool inline_mode, int exit_code) {
  std::ostringstream j;
  j.setf(std::ios::fixed);
  j.precision(3);
  j << "{\"frames_read\":" << end.read << ",\"frames_written\":" << end.written
    << ",\"frames_dropped\":" << end.dropped_total() << ",\"dropped\":{";
  for (std::size_t r = 1; r < kDropReasons; ++r) j << (r > 1 ? "," : "") << "\"" << reason_name(r) << "\":" << end.dropped[r];
  j << "},\"frames_missed_by_source\":" << end.missed_by_source << ",\"wall_seconds\":" << wall_seconds
    << ",\"fps\":" << (wall_seconds > 0 ? static_cast<double>(end.written) / wall_seconds : 0.0)
    << ",\"latency_ms\":{\"p50\":" << end.latency.percentile_ms(50) << ",\"p95\":" << end.latency.percentile_ms(95)
    << ",\"p99\":" << end.latency.percentile_ms(99) << "}";
  j << ",\"detections\":{";
  bool first = true;
  for (const auto& [label, count] : end.detections) {
    j << (first ? "" : ",") << json_string(label) << ":" << count;
    first = false;
  }
  j << "},\"detections_overflow\":" << end.detections_overflow;
  if (!inline_mode)
    j << ",\"hop_us\":{\"p50\":" << end.hop.percentile_ms(50) * 1000 << ",\"p99\":" << end.hop.percentile_ms(99) * 1000
      << "}";
  const double last_frame_ms =
      end.first_frame_ms < 0
          ? -1
          : end.first_frame_ms + static_cast<double>(end.last_written_ns - end.first_written_ns) / 1e6;
  j << ",\"first_frame_ms\":" << end.first_frame_ms << ",\"last_frame_ms\":" << last_frame_ms << ",\"mode\":\""
    << (inline_mode ? "inline" : "workers") << "\",\"exit_code\":" << exit_code << ",\"stages\":[";
  for (std::size_t s = 0; s < end.stages.size(); ++s) {
    const StageSnapshot& st = end.stages[s];
    j << (s ? "," : "") << "{\"name\":" << json_string(st.name) << ",\"workers\":" << (inline_mode ? 0 : st.workers)
      << ",\"frames_processed\":" << st.processed << ",\"busy_seconds\":" << static_cast<double>(st.busy_ns) / 1e9
      << ",\"restarts\":" << st.restarts << ",\"retries\":" << st.retries
      << ",\"latency_ms\":{\"p50\":" << st.latency.percentile_ms(50) << ",\"p99\":" << st.latency.percentile_ms(99)
      << "}}";
  }
  j << "]}";
  return j.str();
}

RunReporter::RunReporter(const RunStats& stats, Options options) : stats_(stats), options_(std::move(options)) {
  if (!options_.stats_json.empty()) {
    stats_json_ = std::fopen(options_.stats_json.c_str(), "ae");  // append, close-on-exec
    if (!stats_json_)
      throw OutputError("--stats-json " + options_.stats_json + ": cannot open for appending: " + std::strerror(errno));
  }
}

RunReporter::~RunReporter() {
  if (stats_json_) std::fclose(stats_json_);
}

void RunReporter::start(std::int64_t now_ns) {
  last_line_ = last_json_ = last_progress_ = take_snapshot(stats_, now_ns);
  next_stats_ns_ = now_ns + static_cast<std::int64_t>(options_.interval_s * 1e9);
  next_progress_ns_ = now_ns + kProgressEveryNs;  // after the start-up lines
}

std::int64_t RunReporter::ns_until_due(std::int64_t now_ns, std::int64_t cap_ns) const {
  constexpr std::int64_t kAtLeast = 1'000'000;
  std::int64_t wait = cap_ns;
  if (options_.interval_s > 0) wait = std::clamp(next_stats_ns_ - now_ns, kAtLeast, wait);
  if (options_.progress) wait = std::clamp(next_progress_ns_ - now_ns, kAtLeast, wait);
  return wait;
}

void RunReporter::tick(std::int64_t now_ns) {
  if (options_.interval_s > 0 && now_ns >= next_stats_ns_) {
    // On a terminal the progress line says it; the log (a file, a container's) gets the line.
    if (!options_.progress) {
      const RunSnapshot now = take_snapshot(stats_, now_ns);
      log_->info("{}", stats_line(now, last_line_, options_.inline_mode));
      last_line_ = now;
    }
    if (stats_json_) write_stats_json(now_ns);
    next_stats_ns_ += static_cast<std::int64_t>(options_.interval_s * 1e9);
  }
  if (options_.progress && now_ns >= next_progress_ns_) {
    draw_progress(now_ns, false);
    next_progress_ns_ = now_ns + kProgressEveryNs;
  }
}

void RunReporter::finish(std::int64_t now_ns) {
  if (options_.progress) draw_progress(now_ns, true);
  if (stats_json_) {
    write_stats_json(now_ns);
    std::fclose(stats_json_);
    stats_json_ = nullptr;
  }
}

void RunReporter::write_stats_json(std::int64_t now_ns) {
  const RunSnapshot now = take_snapshot(stats_, now_ns);
  const std::string line = stats_json(now, last_json_, options_.inline_mode, options_.total_frames);
  last_json_ = now;
  // Appended whole, so a reader following the file never sees half a line; a failure is logged
  // once, the run goes on.
  if (std::fprintf(stats_json_, "%s\n", line.c_str()) < 0 || std::fflush(stats_json_) != 0) {
    log_->warn("--stats-json {}: cannot write ({}); no more stats lines there", options_.stats_json, std::strerror(errno));
    std::fclose(stats_json_);
    stats_json_ = nullptr;
  }
}

void RunReporter::draw_progress(std::int64_t now_ns, bool last) {
  const RunSnapshot now = take_snapshot(stats_, now_ns);
  const std::string line = progress_line(now, last_progress_, options_.total_frames);
  last_progress_ = now;
  std::fprintf(stderr, "\r%s\x1b[K%s", line.c_str(), last ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace cvpipe
