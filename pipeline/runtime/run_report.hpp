#pragma once
// The run report: what the daemon tells about a run, all rendered from one kind of snapshot of its
// counters (RunStats): the stats line in the log, the progress line on a terminal, the JSON lines
// of --stats-json and /status.json, and the one-line JSON summary printed at the end.
//
// take_snapshot() and the renderers only read RunStats' relaxed atomics (and the detection counts'
// mutex): any thread may call them, and they never make the pipeline's threads wait. Allocates.
// RunReporter is the main thread's: it decides when each periodic line is due.
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/run_stats.hpp"

namespace cvpipe {

struct StageSnapshot {
  std::string name;
  int workers = 0;  // the stage's worker count (1 with --inline: the capture thread)
  std::uint64_t processed = 0, busy_ns = 0, queue = 0, restarts = 0, retries = 0;
  LatencyHistogram::Snapshot latency;  // time in the stage's ops per frame
};

// Every counter of a run at one moment.
struct RunSnapshot {
  std::int64_t ns = 0;          // when it was taken (monotonic)
  std::int64_t started_ns = 0;  // when frames could start to flow; 0: not yet
  std::uint64_t read = 0, written = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> dropped{};
  std::uint64_t missed_by_source = 0, reconnects = 0;
  std::uint64_t slots_in_use = 0, slots = 0;
  LatencyHistogram::Snapshot latency;  // capture to write
  LatencyHistogram::Snapshot hop;      // to a worker and back, less its ops
  std::vector<StageSnapshot> stages;
  std::map<std::string, std::uint64_t, std::less<>> detections;  // by class, in the frames written
  std::uint64_t detections_overflow = 0;
  double first_frame_ms = -1;  // after the process started; -1: no frame written
  std::int64_t first_written_ns = 0, last_written_ns = 0;

  std::uint64_t dropped_total() const;
  // The counters at zero, as at `ns` (the start of a run, for rates since the start).
  static RunSnapshot zero_at(std::int64_t ns);
};

RunSnapshot take_snapshot(const RunStats& stats, std::int64_t now_ns);

// Seconds from `last` to `now`, at least a nanosecond (a rate over it is never a division by 0).
double interval_seconds(const RunSnapshot& last, const RunSnapshot& now);
// A stage's share of its workers' time spent in ops over an interval, from the growth of its
// busy_ns. At most 1: a frame's time is counted when it ends, so a long frame puts some of the
// interval before into this one.
double busy_share(std::uint64_t busy_ns_in_interval, double interval_s, int workers);
// Stage `s`'s busy share from `last` to `now`.
double stage_busy_share(const RunSnapshot& last, const RunSnapshot& now, std::size_t s);

// "12 (queue_full=10 too_old=2)": the total and, when there are any, the reasons that happened.
std::string dropped_text(const RunSnapshot& now);
// The log's stats line: "stats read=... written=... | stage workers=... busy=...%", the rates and
// latency percentiles over the interval since `last`.
std::string stats_line(const RunSnapshot& now, const RunSnapshot& last, bool inline_mode);
// One JSON object (--stats-json, /status.json): {"elapsed_seconds":..., "frames_read":..., ...,
// "stages":[...]}; rates and busy shares over the interval since `last`.
std::string stats_json(const RunSnapshot& now, const RunSnapshot& last, bool inline_mode, std::int64_t total_frames);
// "  120/300 frames  40%  85.2 fps  ETA 0:02  dropped 0", to redraw in place; the rate since `last`.
std::string progress_line(const RunSnapshot& now, const RunSnapshot& last, std::int64_t total_frames);
// The summary printed as the last line on stdout.
std::string summary_json(const RunSnapshot& end, double wall_seconds, bool inline_mode, int exit_code);

// The main thread's periodic output. Every log.stats_interval: the stats line (or nothing, when the
// progress line shows it) and a --stats-json line; twice a second on a terminal, with a file source
// of known length, the progress line on stderr. Main thread only.
class RunReporter {
 public:
  struct Options {
    double interval_s = 5;   // log.stats_interval; 0: no stats lines
    bool inline_mode = false;
    std::int64_t total_frames = -1;
    bool progress = false;   // draw the progress line (instead of the stats line)
    std::string stats_json;  // --stats-json FILE, appended to; empty: none
  };

  // Opens --stats-json for appending; throws OutputError when it cannot.
  RunReporter(const RunStats& stats, Options options);
  ~RunReporter();
  RunReporter(const RunReporter&) = delete;
  RunReporter& operator=(const RunReporter&) = delete;

  // Frames may flow from `now_ns`: the intervals count from here.
  void start(std::int64_t now_ns);
  // How long until something is due, at most `cap_ns` (and at least a millisecond).
  std::int64_t ns_until_due(std::int64_t now_ns, std::int64_t cap_ns) const;
  // Writes what is due at `now_ns`.
  void tick(std::int64_t now_ns);
  // The end of the run: the last progress line and --stats-json line; closes the file.
  void finish(std::int64_t now_ns);

 private:
  void write_stats_json(std::int64_t now_ns);
  void draw_progress(std::int64_t now_ns, bool last);

  const RunStats& stats_;
  Options options_;
  std::FILE* stats_json_ = nullptr;
  std::int64_t next_stats_ns_ = 0, next_progress_ns_ = 0;
  RunSnapshot last_line_, last_json_, last_progress_;
  std::shared_ptr<spdlog::logger> log_ = get_logger("cvpipe");
};

}  // namespace cvpipe
