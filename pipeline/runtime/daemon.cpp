#include "pipeline/runtime/daemon.hpp"

#include <blockingconcurrentqueue.h>
#include <concurrentqueue.h>
#include <opencv2/core/utility.hpp>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/core/json.hpp"
#include "pipeline/ops/op_chain.hpp"
#include "pipeline/config/reload.hpp"
#include "pipeline/runtime/http_endpoint.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/metrics.hpp"
#include "pipeline/runtime/reorder_buffer.hpp"
#include "pipeline/runtime/run_stats.hpp"
#include "pipeline/runtime/segment.hpp"
#include "pipeline/runtime/sink.hpp"
#include "pipeline/runtime/supervisor.hpp"
#include "pipeline/runtime/results_writer.hpp"

namespace cvpipe {
namespace {

using Clock = std::chrono::steady_clock;

sigset_t daemon_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1}) sigaddset(&set, sig);
  return set;
}

// Milliseconds since this process started (from /proc/self/stat, 10 ms resolution), or -1.
double ms_since_process_start() {
  FILE* f = std::fopen("/proc/self/stat", "r");
  if (!f) return -1;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  unsigned long long start_ticks = 0;
  // Field 22 (starttime); fields 3.. follow the ')' that ends the command name.
  if (!p || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                        &start_ticks) != 1)
    return -1;
  timespec now;
  clock_gettime(CLOCK_BOOTTIME, &now);
  const double now_ms = static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
  return now_ms - static_cast<double>(start_ticks) * 1e3 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string mib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

constexpr int kSpareWorkers = 64;  // worker controls beyond the config's, for SIGHUP to add workers

struct WriterItem {
  std::uint32_t slot = kNoSlot;  // kNoSlot: end of the run
  DropReason reason = DropReason::kNone;
};

class Run {
 public:
  Run(PipelineConfig& config, std::unique_ptr<Source> source, const RunOptions& options)
      : config_(config), source_(std::move(source)), options_(options) {}
  ~Run() {
    if (stats_json_) std::fclose(stats_json_);  // set-up failed after opening it
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  int execute();

 private:
  // Reads frame `seq` from the source and counts it; capture_ns is now unless the source says.
  Source::Read read_frame(cv::Mat& into, std::uint64_t seq, FrameMeta& meta, std::string& error);
  void read_first_frame();
  void capture_loop();
  // Hands the frame in `slot` to the first stage (inline: runs every stage on it here). Its workers
  // run their ops on it with at least `opencv_threads` OpenCV threads (SlotHeader::opencv_threads).
  void submit(std::uint32_t slot, const FrameMeta& meta, std::vector<std::unique_ptr<OpChain>>& chains,
              std::uint32_t opencv_threads = 0);
  void writer_loop();
  void write_one(const WriterItem& item);
  void fatal(int exit_code, const std::string& message);
  // Capture reads no more frames (a read blocked in the source returns soon).
  void stop_reading() noexcept {
    stop_reading_.store(true);
    source_->interrupt();
  }
  void log_stats();
  std::string dropped_text() const;
  void write_stats_json();
  void draw_progress(bool last);
  void reload_config();
  void print_summary(double wall_s);
  std::unique_ptr<OpChain> inline_chain(std::size_t stage);

  PipelineConfig& config_;
  std::unique_ptr<Source> source_;
  RunOptions options_;
  std::optional<Segment> segment_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<ResultsWriter> results_;  // results.path, if given
  std::unique_ptr<Supervisor> supervisor_;
  RunStats stats_;

  moodycamel::BlockingConcurrentQueue<std::uint32_t> free_slots_;
  moodycamel::ConcurrentQueue<std::uint32_t> captured_;
  moodycamel::BlockingConcurrentQueue<WriterItem> to_writer_;

  std::atomic<bool> stop_reading_{false};
  std::atomic<bool> capture_done_{false};
  std::atomic<bool> run_done_{false};
  // Frame 0, read into slot kFirstFrameSlot before the capture thread starts, which submits it.
  static constexpr std::uint32_t kFirstFrameSlot = 0;
  std::optional<FrameMeta> first_frame_;
  std::mutex first_out_mutex_;
  std::condition_variable first_out_cv_;
  bool first_out_ = false;  // the writer has had the first frame, written or dropped
  std::uint64_t next_order_ = 0;      // capture thread: frames handed to the pipeline so far
  // By slot: the position of its frame among those that entered the pipeline, which the writer
  // restores. Kept here, not in shared memory, so no worker can disturb the order. Written by
  // capture, read by the writer after the slot has passed through the queues between them.
  std::vector<std::uint64_t> slot_order_;
  std::uint64_t captured_total_ = 0;  // published by capture_done_

  std::mutex exit_mutex_;
  int exit_code_ = kExitOk;
  bool output_failed_ = false;  // writer thread only
  double first_frame_ms_ = -1;  // writer thread only, until it has joined
  std::int64_t first_written_ns_ = 0;  // ditto
  // Detections in the frames written, by class, and those that did not fit a frame (writer
  // thread only, until it has joined).
  std::map<std::string, std::uint64_t, std::less<>> detections_by_class_;
  std::uint64_t detections_overflow_ = 0;

  StatsSnapshot last_log_snapshot_;  // at the last stats line
  std::FILE* stats_json_ = nullptr;  // --stats-json; main thread only
  StatsSnapshot last_json_snapshot_;
  bool progress_line_ = false;       // a file source, stderr a terminal: the progress line
  StatsSnapshot last_progress_snapshot_;
  std::shared_ptr<spdlog::logger> log_ = get_logger("cvpipe");
  // Last: destroyed (stopped and joined) first, before the stats it reads.
  std::unique_ptr<HttpEndpoint> http_;
};

void Run::fatal(int exit_code, const std::string& message) {
  {
    std::lock_guard lock(exit_mutex_);
    if (exit_code_ != kExitOk) return;
    exit_code_ = exit_code;
  }
  log_->error("{}", message);
  stop_reading();
  if (supervisor_) supervisor_->stop_now();
}

std::unique_ptr<OpChain> Run::inline_chain(std::size_t stage) {
  auto chain = std::make_unique<OpChain>(config_.stages[stage].ops, config_.stages[stage].input);
  if (Status s = chain->open(); !s) throw std::runtime_error("stage " + config_.stages[stage].name + ": " + s.message());
  return chain;
}

// Hands a captured frame to the pipeline: to the router, or through the inline chains.
void Run::submit(std::uint32_t slot, const FrameMeta& meta, std::vector<std::unique_ptr<OpChain>>& chains,
                 std::uint32_t opencv_threads) {
  const FrameFormat format = config_.source_format;
  SlotHeader& h = segment_->slot(slot);
  stats_.slots_in_use.fetch_add(1, std::memory_order_relaxed);
  h.meta = meta;
  slot_order_[slot] = next_order_++;
  h.width = format.width;
  h.height = format.height;
  h.type = format.type;
  h.buffer = 0;
  h.drop = 0;
  h.opencv_threads = opencv_threads;
  h.error[0] = '\0';
  if (!options_.inline_mode) {
    captured_.enqueue(slot);
    segment_->header().router_bell.ring();
    return;
  }
  // Inline: the same chains, in this thread.
  std::uint8_t* const buffers[2] = {segment_->buffer(slot, 0),
                                    segment_->buffer(slot, segment_->header().buffers_per_slot == 2 ? 1 : 0)};
  int current = 0;
  DropReason reason = chains.empty() ? DropReason::kAborted : DropReason::kNone;
  for (std::size_t s = 0; s < chains.size() && reason == DropReason::kNone; ++s) {
    const std::int64_t start = monotonic_ns();
    const double max_ms = config_.stages[s].max_latency_ms;
    if (max_ms > 0 && start - h.meta.capture_ns > static_cast<std::int64_t>(max_ms * 1e6)) {
      reason = DropReason::kTooOld;
      break;
    }
    const Status st = chains[s]->run(buffers, current, h.meta);
    const std::int64_t took = monotonic_ns() - start;
    stats_.stages[s]->busy_ns.fetch_add(static_cast<std::uint64_t>(took), std::memory_order_relaxed);
    stats_.stages[s]->latency.add(took);
    stats_.stages[s]->processed.fetch_add(1, std::memory_order_relaxed);
    if (!st) {
      reason = DropReason::kError;
      set_slot_error(h, st.message());
    }
  }
  h.buffer = static_cast<std::uint32_t>(current);
  if (reason == DropReason::kNone) {
    const FrameFormat& out = chains.back()->output();
    h.width = out.width;
    h.height = out.height;
    h.type = out.type;
  }
  to_writer_.enqueue(WriterItem{slot, reason});
}

Source::Read Run::read_frame(cv::Mat& into, std::uint64_t seq, FrameMeta& meta, std::string& error) {
  meta.seq = seq;
  const Source::Read r = source_->read(into, meta, error);
  if (r != Source::Read::kFrame) return r;
  if (meta.capture_ns == 0) meta.capture_ns = monotonic_ns();
  stats_.read.fetch_add(1, std::memory_order_relaxed);
  stats_.last_read_ns.store(monotonic_ns(), std::memory_order_relaxed);
  return r;
}

// A source with no clock of its own (a file; synthetic frames at pace: max) decodes its first
// frame while the workers start: at 1080p that takes ~30 ms, their start-up ~10. It is read before
// anything is logged or opened for writing, so that an input whose first frame cannot be decoded
// exits 66 with one line, having written nothing. A live source is first read by the capture
// thread, once the workers are up: its clock starts with the pipeline.
void Run::read_first_frame() {
  const FrameFormat format = config_.source_format;
  cv::Mat into(format.height, format.width, format.type, segment_->buffer(kFirstFrameSlot, 0));
  FrameMeta meta;
  std::string error;
  expect_first_frame(read_frame(into, 0, meta, error), error, config_.source.description);
  first_frame_ = meta;
}

void Run::capture_loop() {
  auto log = get_logger("capture");
  const FrameFormat format = config_.source_format;
  std::vector<std::unique_ptr<OpChain>> chains;
  if (options_.inline_mode) {
    // The sequential baseline: one thread runs every op, with the stages' OpenCV threads (1 by default).
    int threads = 1;
    for (const auto& stage : config_.stages) threads = std::max(threads, stage.opencv_threads);
    cv::setNumThreads(threads);
    try {
      for (std::size_t s = 0; s < config_.stages.size(); ++s) chains.push_back(inline_chain(s));
    } catch (const std::exception& e) {
      fatal(kExitInternal, std::string("cannot start the ops: ") + e.what());
    }
  }
  // Under a drop policy the source is read whether or not a slot is free (a live source cannot
  // wait): a frame with no slot goes to `spare`. drop_newest drops it there; drop_oldest keeps
  // the newest such frame in `held` and copies it into the next free slot.
  const DropPolicy policy = config_.capture_drop_policy;
  cv::Mat spare, held;
  if (policy != DropPolicy::kBlock) {
    spare.create(format.height, format.width, format.type);
    held.create(format.height, format.width, format.type);
  }
  FrameMeta held_meta;
  bool have_held = false;
  std::uint64_t seq = 0;
  // Until the first frame is out, a source with no clock is not read further: that frame is alone
  // in the pipeline, and each worker it meets runs its ops on every core (OpenCV threads), then
  // goes back to its stage's `threads`. Decoding the next frames meanwhile, and a second worker
  // on one of them, took cores from it: 2 workers, 9 runs each, medians, first frame out 299 ->
  // 250 ms on the heavy chain at 1080p, 179 -> 172 on the light one; fps unchanged.
  bool holding_back = !options_.inline_mode && !config_.source.live;
  if (first_frame_) {
    submit(kFirstFrameSlot, *first_frame_, chains,
           holding_back ? static_cast<std::uint32_t>(cv::getNumberOfCPUs()) : 0);
    seq = 1;
  }
  while (!stop_reading_.load(std::memory_order_relaxed)) {
    if (holding_back) {
      std::unique_lock lock(first_out_mutex_);
      if (!first_out_cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return first_out_; })) continue;
      holding_back = false;
    }
    std::uint32_t slot = kNoSlot;
    if (policy == DropPolicy::kBlock) {
      if (!free_slots_.wait_dequeue_timed(slot, std::chrono::milliseconds(100))) continue;
    } else if (!free_slots_.try_dequeue(slot)) {
      slot = kNoSlot;
    }
    if (slot != kNoSlot && have_held) {
      held.copyTo(cv::Mat(format.height, format.width, format.type, segment_->buffer(slot, 0)));
      have_held = false;
      submit(slot, held_meta, chains);
      continue;
    }
    FrameMeta meta;
    cv::Mat into = slot != kNoSlot ? cv::Mat(format.height, format.width, format.type, segment_->buffer(slot, 0)) : spare;
    std::string error;
    const Source::Read r = read_frame(into, seq, meta, error);
    if (r != Source::Read::kFrame) {
      if (slot != kNoSlot) free_slots_.enqueue(slot);
      if (r == Source::Read::kError) {
        std::lock_guard lock(exit_mutex_);
        if (exit_code_ == kExitOk) exit_code_ = kExitNoInput;
        log->error("input error, stopping after {} frames: {}", seq, error);
      }
      break;
    }
    ++seq;
    if (slot != kNoSlot) {
      submit(slot, meta, chains);
    } else if (policy == DropPolicy::kDropNewest) {
      stats_.count_drop(DropReason::kQueueFull);
    } else {
      if (have_held) stats_.count_drop(DropReason::kQueueFull);  // the older of the two
      std::swap(held, spare);
      held_meta = meta;
      have_held = true;
    }
  }
  if (have_held) {
    // Read, so it is in flight: it goes in as soon as the pipeline frees a slot (the writer
    // frees slots until the end, even when frames are being dropped).
    std::uint32_t slot;
    while (!free_slots_.wait_dequeue_timed(slot, std::chrono::milliseconds(100))) {
    }
    held.copyTo(cv::Mat(format.height, format.width, format.type, segment_->buffer(slot, 0)));
    submit(slot, held_meta, chains);
  }
  captured_total_ = next_order_;
  capture_done_.store(true, std::memory_order_release);
  if (options_.inline_mode) to_writer_.enqueue(WriterItem{});
  else segment_->header().router_bell.ring();
  log->debug("capture finished frames={} into_pipeline={}", seq, next_order_);
}

void Run::write_one(const WriterItem& item) {
  if (!first_out_) {  // written only here, so this thread reads it unlocked
    std::lock_guard lock(first_out_mutex_);
    first_out_ = true;
    first_out_cv_.notify_one();
  }
  SlotHeader& h = segment_->slot(item.slot);
  DropReason reason = item.reason;
  if (reason == DropReason::kNone && output_failed_) reason = DropReason::kAborted;
  if (reason == DropReason::kNone) {
    // Written by a worker process: checked before it is used to read the slot.
    const FrameFormat f{h.width, h.height, h.type};
    if (f != config_.output_format || h.buffer >= segment_->header().buffers_per_slot) {
      set_slot_error(h, "the slot holds a " + f.describe() + " frame in buffer " + std::to_string(h.buffer) +
                            ", expected " + config_.output_format.describe());
      reason = DropReason::kError;
      get_logger("writer")->error("frame dropped reason=error seq={} error=\"{}\"", h.meta.seq, h.error);
    }
  }
  if (reason == DropReason::kNone) {
    const FrameFormat f{h.width, h.height, h.type};
    const cv::Mat frame(f.height, f.width, f.type, segment_->buffer(item.slot, h.buffer));
    if (http_ && http_->wants_frame(monotonic_ns())) http_->offer_frame(frame);
    if (Status s = sink_->write(frame, h.meta); !s) {
      output_failed_ = true;
      reason = DropReason::kAborted;
      fatal(kExitCantCreate, "output error, stopping: " + s.message());
    } else {
      if (results_) {
        if (Status r = results_->write(h.meta); !r) {
          output_failed_ = true;  // this frame is in the video; the ones after it are not written
          fatal(kExitCantCreate, "output error, stopping: " + r.message());
        }
      }
      for (const Detection& d : h.meta.detections) {
        const std::string_view label = d.label_view();
        if (auto it = detections_by_class_.find(label); it != detections_by_class_.end()) ++it->second;
        else detections_by_class_.emplace(std::string(label), 1);
      }
      detections_overflow_ += h.meta.detections.overflow;
      const std::int64_t now = monotonic_ns();
      stats_.latency.add(now - h.meta.capture_ns);
      stats_.last_written_ns.store(now, std::memory_order_relaxed);
      if (stats_.written.fetch_add(1, std::memory_order_relaxed) == 0) {
        first_written_ns_ = now;
        first_frame_ms_ = ms_since_process_start();
        log_->info("first frame written after_ms={:.0f} (since the process started)", first_frame_ms_);
      }
    }
  }
  if (reason != DropReason::kNone) stats_.count_drop(reason);
  stats_.slots_in_use.fetch_sub(1, std::memory_order_relaxed);
  free_slots_.enqueue(item.slot);
}

void Run::writer_loop() {
  auto log = get_logger("writer");
  RateLimitedLog drops;
  ReorderBuffer<WriterItem> reorder(segment_->slot_count());
  for (;;) {
    WriterItem item;
    stats_.writer_loop_ns.store(monotonic_ns(), std::memory_order_relaxed);
    if (!to_writer_.wait_dequeue_timed(item, std::chrono::milliseconds(200))) continue;
    if (item.slot == kNoSlot) break;
    if (item.slot >= segment_->slot_count()) {
      log->critical("slot index {} out of range", item.slot);
      std::abort();
    }
    const SlotHeader& h = segment_->slot(item.slot);
    if (item.reason == DropReason::kError)
      drops.warn(*log, "frame dropped reason=error seq={} error=\"{}\"", h.meta.seq, h.error);
    else if (item.reason == DropReason::kWorkerCrash)
      drops.warn(*log, "frame dropped reason=worker_crash seq={}", h.meta.seq);
    reorder.insert(slot_order_[item.slot], item);
    while (auto next = reorder.pop_next()) write_one(*next);
  }
  if (reorder.size() != 0) {
    log->critical("{} frames still waiting for frame #{} at the end of the run", reorder.size(), reorder.next_seq());
    std::abort();
  }
}

// "12 (queue_full=10 too_old=2)": the total and, when there are any, the reasons that happened.
std::string Run::dropped_text() const {
  std::string text = std::to_string(stats_.dropped_total());
  bool any_reason = false;
  for (std::size_t r = 1; r < static_cast<std::size_t>(DropReason::kCount); ++r)
    if (const std::uint64_t n = stats_.dropped[r].load()) {
      text += (any_reason ? " " : " (") + std::string(drop_reason_name(static_cast<DropReason>(r))) + '=' +
              std::to_string(n);
      any_reason = true;
    }
  if (any_reason) text += ')';
  return text;
}

void Run::log_stats() {
  const StatsSnapshot now = take_snapshot(stats_, monotonic_ns());
  const StatsSnapshot& last = last_log_snapshot_;
  const double interval_s = interval_seconds(last, now);
  std::ostringstream line;
  line.setf(std::ios::fixed);
  line.precision(1);
  line << "stats read=" << now.read << " written=" << now.written << " dropped=" << dropped_text();
  if (const std::uint64_t missed = source_->frames_missed()) line << " missed_by_source=" << missed;
  line << " fps_in=" << static_cast<double>(now.read - last.read) / interval_s
       << " fps_out=" << static_cast<double>(now.written - last.written) / interval_s;
  // Capture-to-write latency of the frames written in this interval.
  LatencyHistogram::Counts latency{};
  for (std::size_t b = 0; b < latency.size(); ++b) latency[b] = now.latency[b] - last.latency[b];
  if (now.written > last.written)
    line << " latency_ms p50=" << LatencyHistogram::percentile_ms(latency, 50)
         << " p95=" << LatencyHistogram::percentile_ms(latency, 95)
         << " p99=" << LatencyHistogram::percentile_ms(latency, 99);
  for (std::size_t s = 0; s < stats_.stages.size(); ++s) {
    const StageStats& st = *stats_.stages[s];
    const double share = stage_busy_share(last, now, s, st.workers.load());
    line << " | " << st.name << " workers=" << (options_.inline_mode ? 0 : st.workers.load()) << " busy=" << share * 100 << "%";
    if (!options_.inline_mode) line << " queue=" << st.queue_depth.load();
    line << " done=" << now.processed[s];
  }
  last_log_snapshot_ = now;
  log_->info("{}", line.str());
}

void Run::write_stats_json() {
  const StatsSnapshot now = take_snapshot(stats_, monotonic_ns());
  const std::string line = snapshot_json(stats_, options_.inline_mode, now, last_json_snapshot_, config_.frame_count);
  last_json_snapshot_ = now;
  // Appended whole, so a reader following the file never sees half a line; a failure is logged
  // once, the run goes on.
  if (std::fprintf(stats_json_, "%s\n", line.c_str()) < 0 || std::fflush(stats_json_) != 0) {
    log_->warn("--stats-json {}: cannot write ({}); no more stats lines there", options_.stats_json, std::strerror(errno));
    std::fclose(stats_json_);
    stats_json_ = nullptr;
  }
}

// "  120/300 frames  40%  85.2 fps  ETA 0:02  dropped 0", redrawn in place on stderr.
void Run::draw_progress(bool last) {
  const StatsSnapshot now = take_snapshot(stats_, monotonic_ns());
  const double fps = static_cast<double>(now.written - last_progress_snapshot_.written) /
                     interval_seconds(last_progress_snapshot_, now);
  last_progress_snapshot_ = now;
  const std::uint64_t done = now.written + stats_.dropped_total();
  const auto total = static_cast<std::uint64_t>(std::max<std::int64_t>(config_.frame_count, 1));
  char eta[32] = "--:--";
  if (fps > 0 && done < total) {
    const auto s = static_cast<long>(static_cast<double>(total - done) / fps);
    std::snprintf(eta, sizeof eta, "%ld:%02ld", s / 60, s % 60);
  }
  std::fprintf(stderr, "\r  %" PRIu64 "/%" PRIu64 " frames %3.0f%%  %.1f fps  ETA %s  dropped %" PRIu64 "\x1b[K%s", done, total,
               100.0 * static_cast<double>(std::min(done, total)) / static_cast<double>(total), fps, eta, stats_.dropped_total(),
               last ? "\n" : "");
  std::fflush(stderr);
}

void Run::reload_config() {
  if (options_.inline_mode || !supervisor_ || !options_.reload) {
    log_->warn("SIGHUP received: an --inline run has no workers to resize; ignored");
    return;
  }
  log_->info("SIGHUP received: reading {} again", config_.file);
  PipelineConfig next;
  try {
    next = options_.reload();
  } catch (const ConfigException& e) {
    for (const auto& error : e.errors()) log_->error("{}", error.to_string());
    log_->error("config reload failed ({} error{}): the running config stays", e.errors().size(),
                e.errors().size() == 1 ? "" : "s");
    return;
  }
  const ReloadPlan plan = plan_reload(config_, next);
  for (const auto& what : plan.ignored)
    log_->warn("config reload: {} changed, which cannot change on a running daemon: ignored (restart to apply)", what);
  int total = 0;
  for (int n : plan.workers) total += n;
  if (plan.resized.empty()) {
    log_->info("config reload: no worker count changed");
    return;
  }
  std::string resized;
  for (const auto& r : plan.resized) resized += (resized.empty() ? "" : ", ") + r;
  log_->info("config reload: workers {} ({} in all)", resized, total);
  for (std::size_t s = 0; s < plan.workers.size(); ++s) config_.stages[s].workers = plan.workers[s];
  supervisor_->request_workers(plan.workers);
}

void Run::print_summary(double wall_s) {
  const std::uint64_t written = stats_.written.load();
  std::ostringstream j;
  j.setf(std::ios::fixed);
  j.precision(3);
  j << "{\"frames_read\":" << stats_.read.load() << ",\"frames_written\":" << written
    << ",\"frames_dropped\":" << stats_.dropped_total() << ",\"dropped\":{";
  for (std::size_t r = 1; r < static_cast<std::size_t>(DropReason::kCount); ++r)
    j << (r > 1 ? "," : "") << "\"" << drop_reason_name(static_cast<DropReason>(r)) << "\":" << stats_.dropped[r].load();
  j << "},\"frames_missed_by_source\":" << source_->frames_missed() << ",\"wall_seconds\":" << wall_s << ",\"fps\":" << (wall_s > 0 ? static_cast<double>(written) / wall_s : 0.0)
    << ",\"latency_ms\":{\"p50\":" << stats_.latency.percentile_ms(50) << ",\"p95\":" << stats_.latency.percentile_ms(95)
    << ",\"p99\":" << stats_.latency.percentile_ms(99) << "}";
  j << ",\"detections\":{";
  bool first = true;
  for (const auto& [label, count] : detections_by_class_) {
    j << (first ? "" : ",") << json_string(label) << ":" << count;
    first = false;
  }
  j << "},\"detections_overflow\":" << detections_overflow_;
  if (!options_.inline_mode)
    j << ",\"hop_us\":{\"p50\":" << stats_.hop.percentile_ms(50) * 1000 << ",\"p99\":" << stats_.hop.percentile_ms(99) * 1000
      << "}";
  const double last_frame_ms =
      first_frame_ms_ < 0 ? -1
                          : first_frame_ms_ + static_cast<double>(stats_.last_written_ns.load() - first_written_ns_) / 1e6;
  j << ",\"first_frame_ms\":" << first_frame_ms_ << ",\"last_frame_ms\":" << last_frame_ms << ",\"mode\":\""
    << (options_.inline_mode ? "inline" : "workers") << "\",\"exit_code\":" << exit_code_ << ",\"stages\":[";
  for (std::size_t s = 0; s < stats_.stages.size(); ++s) {
    const StageStats& st = *stats_.stages[s];
    j << (s ? "," : "") << "{\"name\":" << json_string(st.name) << ",\"workers\":" << (options_.inline_mode ? 0 : st.workers.load())
      << ",\"frames_processed\":" << st.processed.load() << ",\"busy_seconds\":" << static_cast<double>(st.busy_ns.load()) / 1e9
      << ",\"restarts\":" << st.restarts.load() << ",\"retries\":" << st.retries.load()
      << ",\"latency_ms\":{\"p50\":" << st.latency.percentile_ms(50) << ",\"p99\":" << st.latency.percentile_ms(99) << "}}";
  }
  j << "]}";
  std::fflush(stderr);
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
}

int Run::execute() {
  const auto started = Clock::now();
  int total_workers = 0;
  for (const auto& stage : config_.stages) {
    auto st = std::make_unique<StageStats>();
    st->name = stage.name;
    st->workers = options_.inline_mode ? 1 : stage.workers;  // inline: the capture thread
    total_workers += stage.workers;
    stats_.stages.push_back(std::move(st));
  }

  SegmentSizes sizes;
  sizes.slots = static_cast<std::uint32_t>(config_.slots);
  sizes.buffers_per_slot = static_cast<std::uint32_t>(config_.buffers_per_slot);
  sizes.frame_bytes = config_.frame_bytes;
  // Room for a SIGHUP to add workers (and for retiring ones to overlap their replacements).
  sizes.worker_capacity = static_cast<std::uint32_t>(total_workers + kSpareWorkers);
  sizes.config_text = config_.resolved_yaml;
  segment_.emplace(Segment::create(sizes));

  // The workers start first: they take ~10 ms to exec and attach, while this thread reads the
  // first frame and opens the outputs. Should anything fail before the run starts, ~Supervisor
  // stops them.
  if (!options_.inline_mode) {
    Supervisor::Hooks hooks;
    hooks.next_captured = [this](std::uint32_t& slot) { return captured_.try_dequeue(slot); };
    hooks.capture_finished = [this](std::uint64_t& total) {
      if (!capture_done_.load(std::memory_order_acquire)) return false;
      total = captured_total_;
      return true;
    };
    hooks.deliver = [this](std::uint32_t slot, DropReason reason) { to_writer_.enqueue(WriterItem{slot, reason}); };
    hooks.fatal = [this](int code, const std::string& message) { fatal(code, message); };
    supervisor_ = std::make_unique<Supervisor>(config_, *segment_, stats_, std::move(hooks));
    supervisor_->start();
  }
  if (!config_.source.live) read_first_frame();

  std::ostringstream stages;
  for (const auto& s : config_.stages) stages << (stages.tellp() > 0 ? ", " : "") << s.name << " x" << s.workers;
  log_->info("starting config={} source=\"{}\" format={} fps={:.2f} frames={} stages=[{}] mode={}", config_.file,
             config_.source.description, config_.source_format.describe(), config_.fps, config_.frame_count,
             stages.str(), options_.inline_mode ? "inline" : "workers");
  log_->info("shared segment size={} ({} slots x {} buffer{} x {} B frames = {}, plus {} KiB rings and control)",
             mib(segment_->size()), config_.slots, config_.buffers_per_slot, config_.buffers_per_slot == 1 ? "" : "s",
             segment_->header().buffer_bytes,
             mib(segment_->frames_bytes()), (segment_->size() - segment_->frames_bytes()) / 1024);

  if (supervisor_) log_->info("workers started count={}", total_workers);
  if (!config_.results_path.empty()) {
    if (config_.results_path == "-") signal(SIGPIPE, SIG_IGN);  // a closed stdout is a write error, not death
    results_ = ResultsWriter::open(config_.results_path);  // OutputError -> 73 before anything runs
    log_->info("results file={}", results_->path());
  }
  if (!options_.stats_json.empty()) {
    stats_json_ = std::fopen(options_.stats_json.c_str(), "ae");  // append, close-on-exec
    if (!stats_json_)
      throw OutputError("--stats-json " + options_.stats_json + ": cannot open for appending: " + std::strerror(errno));
  }
  progress_line_ = config_.source.type == "file" && config_.frame_count > 0 && ::isatty(STDERR_FILENO) == 1;
  sink_ = config_.sink.open(config_.output_format, config_.fps);  // OutputError -> 73 before anything runs
  log_->info("output sink=\"{}\" format={}", config_.sink.description, config_.output_format.describe());
  slot_order_.assign(segment_->slot_count(), 0);
  stats_.slots_total.store(segment_->slot_count(), std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < segment_->slot_count(); ++i)
    if (!first_frame_ || i != kFirstFrameSlot) free_slots_.enqueue(i);

  if (!config_.http.listen.empty()) {
    // Before the workers are ready: /healthz answers while they load. Throws UnavailableError
    // (exit 69) when the address is taken; the workers are then stopped with the Run.
    http_ = HttpEndpoint::start({config_.http, &stats_, config_.resolved_yaml, options_.inline_mode, config_.frame_count});
    log_->info("http listening on http://{}/ (status page; /metrics /healthz /readyz /stream.mjpg)", config_.http.listen);
  }

  std::thread router;
  if (!options_.inline_mode) {
    // Frames flow once every worker is up, so none waits on a loading process (and a paced
    // source's clock starts with the pipeline). An op that cannot open ends the run here.
    const bool ready = supervisor_->wait_ready(std::chrono::seconds(30), [] {
      sigset_t pending;
      sigpending(&pending);
      return sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM);
    });
    if (ready) {
      log_->info("workers ready after_ms={:.0f}", std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    } else {
      log_->info("stop requested while the workers were starting: no more frames will be read");
      stop_reading();
    }
    // Restarted workers are spawned from the router thread, and PR_SET_PDEATHSIG fires when the
    // spawning *thread* exits: so this thread also stops the workers before it ends.
    router = std::thread([this] {
      pthread_setname_np(pthread_self(), "cvpipe-router");  // for top -H, perf and gdb
      // Nothing may escape a thread. After an unexpected error the second run() drops what is
      // in flight (stop_now, set by fatal) so the writer still finalizes the output.
      for (int attempt = 0; attempt < 2; ++attempt) {
        try {
          supervisor_->run();
          break;
        } catch (const std::exception& e) {
          fatal(kExitInternal, std::string("router error: ") + e.what());
          if (attempt == 1) std::abort();
        }
      }
      to_writer_.enqueue(WriterItem{});
      supervisor_->stop_workers(std::chrono::seconds(2));
    });
  }
  stats_.started_ns.store(monotonic_ns(), std::memory_order_relaxed);
  last_log_snapshot_ = last_json_snapshot_ = last_progress_snapshot_ = take_snapshot(stats_, monotonic_ns());
  const pthread_t main_thread = pthread_self();
  std::thread writer([this, main_thread] {
    pthread_setname_np(pthread_self(), "cvpipe-writer");
    writer_loop();
    stats_.finished.store(true);
    run_done_.store(true);
    pthread_kill(main_thread, SIGUSR1);  // wakes the signal loop below
  });
  std::thread capture([this] {
    pthread_setname_np(pthread_self(), "cvpipe-capture");
    capture_loop();
  });

  // The main thread: signals and stats, until the writer has seen the end of the run.
  const sigset_t signals = daemon_signals();
  const auto interval = std::chrono::duration<double>(config_.stats_interval_s);
  auto next_stats = Clock::now() + interval;
  int stop_signals = 0;
  // The first stop signal's number, sender and time. GNU timeout signals the daemon and then its
  // whole process group, which is the same request twice within microseconds.
  struct StopRequest {
    int sig, code;
    pid_t pid;
    Clock::time_point at;
  };
  std::optional<StopRequest> first_stop;
  std::optional<Clock::time_point> drain_deadline;  // set by the first SIGINT/SIGTERM
  auto next_progress = Clock::now() + std::chrono::milliseconds(500);  // after the start-up lines
  while (!run_done_.load()) {
    stats_.main_loop_ns.store(monotonic_ns(), std::memory_order_relaxed);
    stats_.missed_by_source.store(source_->frames_missed(), std::memory_order_relaxed);
    stats_.source_reconnects.store(source_->reconnects(), std::memory_order_relaxed);
    // Sleep until a signal, the next stats line, or a second at most.
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::seconds(1));
    if (drain_deadline)
      wait = std::clamp(std::chrono::duration_cast<std::chrono::nanoseconds>(*drain_deadline - Clock::now()),
                        std::chrono::nanoseconds(1'000'000), wait);
    if (config_.stats_interval_s > 0)
      wait = std::clamp(std::chrono::duration_cast<std::chrono::nanoseconds>(next_stats - Clock::now()),
                        std::chrono::nanoseconds(1'000'000), wait);
    if (progress_line_)
      wait = std::clamp(std::chrono::duration_cast<std::chrono::nanoseconds>(next_progress - Clock::now()),
                        std::chrono::nanoseconds(1'000'000), wait);
    timespec timeout{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    siginfo_t info;
    const int sig = sigtimedwait(&signals, &info, &timeout);
    if (sig == SIGCHLD) {
      if (supervisor_) supervisor_->notify_child_exit();
    } else if ((sig == SIGINT || sig == SIGTERM) && first_stop && first_stop->sig == sig &&
               first_stop->code == info.si_code && first_stop->pid == info.si_pid &&
               Clock::now() - first_stop->at < std::chrono::milliseconds(100)) {
      log_->debug("{} received again from the same sender at once: the same request", strsignal(sig));
    } else if (sig == SIGINT || sig == SIGTERM) {
      if (!first_stop) first_stop = StopRequest{sig, info.si_code, info.si_pid, Clock::now()};
      if (++stop_signals == 1) {
        log_->info("{} received: finishing the frames in flight, for {:.0f} s at most (send it again to stop at once)",
                   strsignal(sig), config_.shutdown_grace_s);
        stop_reading();
        drain_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(config_.shutdown_grace_s));
      } else {
        log_->warn("{} received again: dropping the frames in flight", strsignal(sig));
        stop_reading();
        if (supervisor_) supervisor_->stop_now();
      }
    } else if (sig == SIGHUP) {
      reload_config();
    }
    if (drain_deadline && stop_signals == 1 && Clock::now() >= *drain_deadline) {
      log_->warn("frames still in flight after limits.shutdown_grace={:.0f} s: dropping them", config_.shutdown_grace_s);
      stop_signals = 2;
      if (supervisor_) supervisor_->stop_now();
    }
    if (config_.stats_interval_s > 0 && Clock::now() >= next_stats) {
      // On a terminal the progress line says it; the log (a file, a container's) gets the line.
      if (!progress_line_) log_stats();
      if (stats_json_) write_stats_json();
      next_stats += std::chrono::duration_cast<Clock::duration>(interval);
    }
    if (progress_line_ && Clock::now() >= next_progress) {
      draw_progress(false);
      next_progress = Clock::now() + std::chrono::milliseconds(500);
    }
  }
  if (progress_line_) draw_progress(true);
  if (stats_json_) {
    write_stats_json();  // the end of the run
    std::fclose(stats_json_);
    stats_json_ = nullptr;
  }
  capture.join();
  writer.join();
  if (router.joinable()) router.join();
  supervisor_.reset();
  if (Status s = sink_->close(); !s) fatal(kExitCantCreate, "output error: " + s.message());
  if (results_)
    if (Status s = results_->close(); !s) fatal(kExitCantCreate, "output error: " + s.message());
  const double wall = std::chrono::duration<double>(Clock::now() - started).count();
  log_->info("finished read={} written={} dropped={} wall_s={:.2f} fps={:.1f} exit_code={}", stats_.read.load(),
             stats_.written.load(), dropped_text(), wall,
             wall > 0 ? static_cast<double>(stats_.written.load()) / wall : 0.0, exit_code_);
  print_summary(wall);
  return exit_code_;
}

}  // namespace

void block_daemon_signals() {
  const sigset_t set = daemon_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run_pipeline(PipelineConfig& config, std::unique_ptr<Source> source, const RunOptions& options) {
  Run run(config, std::move(source), options);
  return run.execute();
}

}  // namespace cvpipe
