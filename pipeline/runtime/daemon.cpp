#include "pipeline/runtime/daemon.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <opencv2/core/utility.hpp>

#include <concurrentqueue.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "pipeline/config/reload.hpp"
#include "pipeline/core/clock.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/core/pid_file.hpp"
#include "pipeline/runtime/capture.hpp"
#include "pipeline/runtime/handoff.hpp"
#include "pipeline/runtime/http_endpoint.hpp"
#include "pipeline/runtime/inline_stages.hpp"
#include "pipeline/runtime/results_writer.hpp"
#include "pipeline/runtime/run_report.hpp"
#include "pipeline/runtime/run_stats.hpp"
#include "pipeline/runtime/segment.hpp"
#include "pipeline/runtime/signals.hpp"
#include "pipeline/runtime/sink.hpp"
#include "pipeline/runtime/supervisor.hpp"
#include "pipeline/runtime/writer.hpp"

namespace cvpipe {
namespace {

constexpr int kSpareWorkers = 64;  // worker controls beyond the config's, for SIGHUP to add workers
constexpr std::int64_t kMainLoopTurnNs = 1'000'000'000;  // the main loop turns at least this often

std::string mib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

// One run: the wiring of the pieces above, and the main thread's loop (signals, the periodic
// report, the drain deadline) until the writer has seen the last frame.
class Run {
 public:
  Run(PipelineConfig& config, std::unique_ptr<Source> source, const RunOptions& options)
      : config_(config), source_(std::move(source)), options_(options) {}
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  int execute();

 private:
  void start_stats();
  void start_workers();
  void open_outputs();
  void start_router();
  // The main thread's loop, until the writer has seen the end.
  void watch();
  void handle_stop_signal(const SignalEvent& event);
  // SIGHUP: reads the config again on a thread of its own; apply_reload() (main loop) applies it.
  void reload_config();
  void apply_reload();
  void next_reload();  // a SIGHUP that came during a reload: read again
  // Ends the run with `exit_code` (the first one set wins) and one log line; nothing more is read
  // and what is in flight is dropped.
  void fatal(int exit_code, const std::string& message);
  int exit_code() {
    const std::lock_guard lock(exit_mutex_);
    return exit_code_;
  }

  PipelineConfig& config_;
  std::unique_ptr<Source> source_;
  RunOptions options_;
  RunStats stats_;
  std::optional<Segment> segment_;
  SlotQueue free_slots_;
  SlotOrder slot_order_;
  FirstFrameOut first_out_;
  moodycamel::ConcurrentQueue<std::uint32_t> captured_;  // capture -> router
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<Capture> capture_;
  std::unique_ptr<Supervisor> supervisor_;
  std::unique_ptr<InlineStages> inline_stages_;  // --inline; made on the capture thread
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<ResultsWriter> results_;
  std::unique_ptr<RunReporter> reporter_;
  std::thread router_;
  std::optional<PidFile> pid_file_;  // removed when the run is over

  std::mutex exit_mutex_;
  int exit_code_ = kExitOk;
  std::atomic<bool> run_done_{false};
  StopRequests stop_requests_;
  std::future<PipelineConfig> reload_;  // a reload being read, main thread only
  std::thread reload_thread_;          // which reads it
  bool reload_again_ = false;
  std::optional<std::int64_t> drain_deadline_ns_;  // set by the first SIGINT/SIGTERM
  bool dropping_ = false;                          // in flight frames dropped (second signal, deadline)
  std::shared_ptr<spdlog::logger> log_ = get_logger("cvpipe");
  // Last: destroyed (stopped and joined) first, before the stats it reads.
  std::unique_ptr<HttpEndpoint> http_;
};

void Run::fatal(int exit_code, const std::string& message) {
  {
    const std::lock_guard lock(exit_mutex_);
    if (exit_code_ != kExitOk) return;
    exit_code_ = exit_code;
  }
  log_->error("{}", message);
  if (capture_) capture_->stop();
  if (supervisor_) supervisor_->stop_now();
}

void Run::start_stats() {
  for (const auto& stage : config_.stages) {
    auto st = std::make_unique<StageStats>();
    st->name = stage.name;
    st->workers = options_.inline_mode ? 1 : stage.workers;  // inline: the capture thread
    stats_.stages.push_back(std::move(st));
  }
}

// The workers start first: they exec and attach while this thread reads the first frame and opens
// the outputs. Should anything fail before the run starts, ~Supervisor stops them.
void Run::start_workers() {
  Supervisor::Hooks hooks;
  hooks.next_captured = [this](std::uint32_t& slot) { return captured_.try_dequeue(slot); };
  hooks.capture_finished = [this](std::uint64_t& total) { return capture_->finished(total); };
  hooks.deliver = [this](std::uint32_t slot, DropReason reason) { writer_->deliver(slot, reason); };
  hooks.fatal = [this](int code, const std::string& message) { fatal(code, message); };
  supervisor_ = std::make_unique<Supervisor>(config_, *segment_, stats_, std::move(hooks));
  supervisor_->start();
}

void Run::open_outputs() {
  if (!config_.http.listen.empty()) {
    // First, so that a taken port (UnavailableError, exit 69) leaves no output file behind; and
    // before the workers are ready: /healthz answers while they load. The workers are then
    // stopped with the Run.
    http_ = HttpEndpoint::start({config_.http, &stats_, config_.shown_yaml, options_.inline_mode, config_.frame_count});
    log_->info("http listening on http://{}/ (status page; /metrics /healthz /readyz /stream.mjpg)", config_.http.listen);
  }
  if (!config_.results_path.empty()) {
    if (config_.results_path == "-") signal(SIGPIPE, SIG_IGN);  // a closed stdout is a write error, not death
    results_ = ResultsWriter::open(config_.results_path);  // OutputError -> 73 before anything runs
    log_->info("results file={}", results_->path());
  }
  RunReporter::Options report;
  report.interval_s = config_.stats_interval_s;
  report.inline_mode = options_.inline_mode;
  report.total_frames = config_.frame_count;
  // On a terminal, a file of known length: a progress line instead of the stats line.
  report.progress = config_.source.type == "file" && config_.frame_count > 0 && ::isatty(STDERR_FILENO) == 1;
  report.stats_json = options_.stats_json;
  reporter_ = std::make_unique<RunReporter>(stats_, report);  // OutputError -> 73
  sink_ = config_.sink.open(config_.output_format, config_.fps);  // OutputError -> 73 before anything runs
  log_->info("output sink=\"{}\" format={}", config_.sink.description, config_.output_format.describe());
}

void Run::start_router() {
  // Restarted workers are spawned from the router thread, and PR_SET_PDEATHSIG fires when the
  // spawning *thread* exits: so this thread also stops the workers before it ends.
  router_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "cvpipe-router");  // for top -H, perf and gdb
    // Nothing may escape a thread. After an unexpected error the second run() drops what is in
    // flight (stop_now, set by fatal) so the writer still finalizes the output.
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        supervisor_->run();
        break;
      } catch (const std::exception& e) {
        fatal(kExitInternal, std::string("router error: ") + e.what());
        if (attempt == 1) std::abort();
      }
    }
    writer_->end();
    supervisor_->stop_workers(std::chrono::seconds(2));
  });
}

void Run::handle_stop_signal(const SignalEvent& event) {
  switch (stop_requests_.on_stop_signal(event, monotonic_ns())) {
    case StopRequests::Action::kRepeat:
      log_->debug("{} received again from the same sender at once: the same request", strsignal(event.sig));
      break;
    case StopRequests::Action::kDrain:
      log_->info("{} received: finishing the frames in flight, for {:.0f} s at most (send it again to stop at once)",
                 strsignal(event.sig), config_.shutdown_grace_s);
      capture_->stop();
      drain_deadline_ns_ = monotonic_ns() + static_cast<std::int64_t>(config_.shutdown_grace_s * 1e9);
      break;
    case StopRequests::Action::kStopNow:
      log_->warn("{} received again: dropping the frames in flight", strsignal(event.sig));
      capture_->stop();
      dropping_ = true;
      if (supervisor_) supervisor_->stop_now();
      break;
  }
}

void Run::watch() {
  while (!run_done_.load()) {
    const std::int64_t now = monotonic_ns();
    stats_.main_loop_ns.store(now, std::memory_order_relaxed);
    stats_.missed_by_source.store(source_->frames_missed(), std::memory_order_relaxed);
    stats_.source_reconnects.store(source_->reconnects(), std::memory_order_relaxed);
    // Sleep until a signal, the next report line, the drain deadline, or a second at most.
    std::int64_t wait = reporter_->ns_until_due(now, kMainLoopTurnNs);
    if (drain_deadline_ns_ && !dropping_) wait = std::clamp<std::int64_t>(*drain_deadline_ns_ - now, 1'000'000, wait);
    if (const auto event = wait_for_signal(wait)) {
      if (event->sig == SIGCHLD) {
        if (supervisor_) supervisor_->notify_child_exit();
      } else if (event->sig == SIGINT || event->sig == SIGTERM) {
        handle_stop_signal(*event);
      } else if (event->sig == SIGHUP) {
        reload_config();
      }
    }
    if (drain_deadline_ns_ && !dropping_ && monotonic_ns() >= *drain_deadline_ns_) {
      log_->warn("frames still in flight after limits.shutdown_grace={:.0f} s: dropping them", config_.shutdown_grace_s);
      dropping_ = true;
      if (supervisor_) supervisor_->stop_now();
    }
    apply_reload();
    reporter_->tick(monotonic_ns());
  }
  if (reload_thread_.joinable()) reload_thread_.join();  // nothing of it is applied now; it must not outlive the run
}

void Run::reload_config() {
  if (options_.inline_mode || !supervisor_ || !options_.reload) {
    log_->warn("SIGHUP received: an --inline run has no workers to resize; ignored");
    return;
  }
  if (reload_.valid()) {
    log_->info("SIGHUP received while the config is being read again: read once more after that");
    reload_again_ = true;
    return;
  }
  log_->info("SIGHUP received: reading {} again", config_.file);
  // Read on a thread of its own: the main loop goes on turning (what /healthz watches) however
  // long the file takes to read and check. It wakes the loop when done.
  const pthread_t main_thread = pthread_self();
  std::promise<PipelineConfig> read;
  reload_ = read.get_future();
  reload_thread_ = std::thread([this, main_thread, read = std::move(read)]() mutable {
    pthread_setname_np(pthread_self(), "cvpipe-reload");
    try {
      read.set_value(options_.reload());
    } catch (...) {
      read.set_exception(std::current_exception());
    }
    pthread_kill(main_thread, SIGUSR1);  // the result is ready: wake the main loop
  });
}

void Run::apply_reload() {
  if (!reload_.valid() || reload_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  reload_thread_.join();
  PipelineConfig next;
  try {
    next = reload_.get();
  } catch (const ConfigException& e) {
    for (const auto& error : e.errors()) log_->error("{}", error.to_string());
    log_->error("config reload failed ({} error{}): the running config stays", e.errors().size(),
                e.errors().size() == 1 ? "" : "s");
    next_reload();
    return;
  } catch (const std::exception& e) {
    log_->error("config reload failed: {}: the running config stays", e.what());
    next_reload();
    return;
  }
  // A --set still wins over the file; a change the file made under it is said, not applied.
  for (const auto& now : next.pinned)
    for (const auto& before : config_.pinned)
      if (now.path == before.path && now.file_value != before.file_value)
        log_->warn("config reload: the file changed {} ({} -> {}), but {} pins it: not applied (restart without it)",
                   now.path, before.file_value, now.file_value, now.origin);
  config_.pinned = next.pinned;  // said once: the next reload compares with this file
  const ReloadPlan plan = plan_reload(config_, next);
  for (const auto& what : plan.ignored)
    log_->warn("config reload: {} changed, which cannot change on a running daemon: ignored (restart to apply)", what);
  int total = 0;
  for (int n : plan.workers) total += n;
  if (plan.resized.empty()) {
    log_->info("config reload: no worker count changed");
    next_reload();
    return;
  }
  log_->info("config reload: workers {} ({} in all)", join(plan.resized, ", "), total);
  for (std::size_t s = 0; s < plan.workers.size(); ++s) config_.stages[s].workers = plan.workers[s];
  supervisor_->request_workers(plan.workers);
  next_reload();
}

void Run::next_reload() {
  if (!reload_again_) return;
  reload_again_ = false;
  reload_config();
}

int Run::execute() {
  const std::int64_t started = monotonic_ns();
  // First: a pid file that cannot be written (or that another running daemon holds) is exit 73
  // before anything starts.
  if (!options_.pid_file.empty()) pid_file_.emplace(options_.pid_file);
  start_stats();
  int total_workers = 0;
  for (const auto& stage : config_.stages) total_workers += stage.workers;

  SegmentSizes sizes;
  sizes.slots = static_cast<std::uint32_t>(config_.slots);
  sizes.buffers_per_slot = static_cast<std::uint32_t>(config_.buffers_per_slot);
  sizes.frame_bytes = config_.frame_bytes;
  // Room for a SIGHUP to add workers (and for retiring ones to overlap their replacements).
  sizes.worker_capacity = static_cast<std::uint32_t>(total_workers + kSpareWorkers);
  sizes.config_text = config_.worker_yaml;  // workers read their stage's ops, and nothing else
  segment_.emplace(Segment::create(sizes));
  slot_order_.assign(segment_->slot_count(), 0);
  stats_.slots_total.store(segment_->slot_count(), std::memory_order_relaxed);

  writer_ = std::make_unique<Writer>(config_.output_format, *segment_, free_slots_, slot_order_, first_out_, stats_,
                                     [this](int code, const std::string& message) { fatal(code, message); });
  Capture::Options capture_options;
  capture_options.format = config_.source_format;
  capture_options.description = config_.source.description;
  capture_options.policy = config_.capture_drop_policy;
  capture_options.hold_back_until_first_out = !options_.inline_mode && !config_.source.live;
  capture_options.first_frame_threads = static_cast<std::uint32_t>(cv::getNumberOfCPUs());
  Capture::Hooks capture_hooks;
  if (options_.inline_mode) {
    capture_hooks.hand_over = [this](std::uint32_t slot) {
      writer_->deliver(slot, inline_stages_ ? inline_stages_->run(slot) : DropReason::kAborted);
    };
    capture_hooks.done = [this] { writer_->end(); };
  } else {
    capture_hooks.hand_over = [this](std::uint32_t slot) {
      captured_.enqueue(slot);
      segment_->router_bell().ring();
    };
    capture_hooks.done = [this] { segment_->router_bell().ring(); };
  }
  capture_hooks.input_failed = [this](const std::string&) {
    const std::lock_guard lock(exit_mutex_);
    if (exit_code_ == kExitOk) exit_code_ = kExitNoInput;  // what is in flight is still written
  };
  capture_ = std::make_unique<Capture>(capture_options, *source_, *segment_, free_slots_, slot_order_, first_out_, stats_,
                                       std::move(capture_hooks));

  if (!options_.inline_mode) start_workers();
  // A source with no clock decodes its first frame while the workers start, before anything is
  // logged or opened for writing: an input whose first frame cannot be decoded exits 66 with one
  // line, having written nothing. A live source is first read by the capture thread once the
  // workers are up: its clock starts with the pipeline.
  if (!config_.source.live) capture_->read_first_frame();

  std::ostringstream stages;
  for (const auto& s : config_.stages) stages << (stages.tellp() > 0 ? ", " : "") << s.name << " x" << s.workers;
  log_->info("starting config={} source=\"{}\" format={} fps={:.2f} frames={} stages=[{}] mode={} pid={}", config_.file,
             config_.source.description, config_.source_format.describe(), config_.fps, config_.frame_count,
             stages.str(), options_.inline_mode ? "inline" : "workers", ::getpid());
  log_->info("shared segment size={} ({} slots x {} buffer{} x {} B frames = {}, plus {} KiB rings, control and "
             "guard pages, which take no memory)",
             mib(segment_->size()), config_.slots, config_.buffers_per_slot, config_.buffers_per_slot == 1 ? "" : "s",
             segment_->layout().buffer_bytes, mib(segment_->frames_bytes()),
             (segment_->size() - segment_->frames_bytes()) / 1024);
  if (supervisor_) log_->info("workers started count={}", total_workers);
  open_outputs();
  for (std::uint32_t i = 0; i < segment_->slot_count(); ++i)
    if (!capture_->has_first_frame() || i != Capture::kFirstFrameSlot) free_slots_.enqueue(i);

  if (!options_.inline_mode) {
    // Frames flow once every worker is up, so none waits on a loading process (and a paced
    // source's clock starts with the pipeline). An op that cannot open ends the run here.
    if (supervisor_->wait_ready(std::chrono::seconds(30), stop_requested_while_blocked)) {
      log_->info("workers ready after_ms={:.0f}", static_cast<double>(monotonic_ns() - started) / 1e6);
    } else {
      log_->info("stop requested while the workers were starting: no more frames will be read");
      capture_->stop();
    }
    start_router();
  }
  stats_.started_ns.store(monotonic_ns(), std::memory_order_relaxed);
  reporter_->start(monotonic_ns());
  const pthread_t main_thread = pthread_self();
  std::thread writer([this, main_thread] {
    pthread_setname_np(pthread_self(), "cvpipe-writer");
    writer_->run({sink_.get(), results_.get(), http_.get()});
    run_done_.store(true);
    pthread_kill(main_thread, SIGUSR1);  // wakes the main loop
  });
  std::thread capture([this] {
    pthread_setname_np(pthread_self(), "cvpipe-capture");
    if (options_.inline_mode) {
      try {
        inline_stages_ = std::make_unique<InlineStages>(config_, *segment_, stats_);
      } catch (const std::exception& e) {
        fatal(kExitInternal, std::string("cannot start the ops: ") + e.what());
      }
    }
    capture_->run();
  });

  watch();
  stats_.missed_by_source.store(source_->frames_missed(), std::memory_order_relaxed);
  reporter_->finish(monotonic_ns());
  capture.join();
  writer.join();
  if (router_.joinable()) router_.join();
  supervisor_.reset();
  if (Status s = sink_->close(); !s) fatal(kExitCantCreate, "output error: " + s.message());
  if (results_)
    if (Status s = results_->close(); !s) fatal(kExitCantCreate, "output error: " + s.message());
  const double wall = static_cast<double>(monotonic_ns() - started) / 1e9;
  const RunSnapshot end = take_snapshot(stats_, monotonic_ns());
  log_->info("finished read={} written={} dropped={} wall_s={:.2f} fps={:.1f} exit_code={}", end.read, end.written,
             dropped_text(end), wall, wall > 0 ? static_cast<double>(end.written) / wall : 0.0, exit_code());
  std::fflush(stderr);
  std::printf("%s\n", summary_json(end, wall, options_.inline_mode, exit_code()).c_str());
  std::fflush(stdout);
  return exit_code();
}

}  // namespace

int run_pipeline(PipelineConfig& config, std::unique_ptr<Source> source, const RunOptions& options) {
  Run run(config, std::move(source), options);
  return run.execute();
}

}  // namespace cvpipe
