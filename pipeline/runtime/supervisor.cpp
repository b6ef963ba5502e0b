#include "pipeline/runtime/supervisor.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/core/sandbox.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/worker.hpp"

namespace cvpipe {
namespace {

constexpr std::chrono::milliseconds kRestartBackoff{100};  // doubled per recent crash, capped
constexpr std::chrono::milliseconds kMaxBackoff{2000};

// Why a slot handed back by a worker of a stage whose frames leave as `out` cannot be what that
// worker wrote, or "".
std::string slot_left_badly(const SlotHeader& h, const FrameFormat& out, std::uint32_t buffers) {
  if (h.drop >= static_cast<std::uint32_t>(DropReason::kCount)) return "drop code " + std::to_string(h.drop);
  if (h.buffer >= buffers) return "buffer " + std::to_string(h.buffer);
  if (h.meta.detections.count > Detections::kCapacity) return std::to_string(h.meta.detections.count) + " detections";
  if (::strnlen(h.error, sizeof h.error) == sizeof h.error) return "an unterminated error text";
  const FrameFormat f{h.width, h.height, h.type};
  if (h.drop == 0 && f != out) return "a " + f.describe() + " frame where the stage makes " + out.describe();
  return "";
}

}  // namespace

Supervisor::Supervisor(const PipelineConfig& config, Segment& segment, RunStats& stats, Hooks hooks,
                       WorkerCommand command)
    : config_(config),
      segment_(segment),
      stats_(stats),
      hooks_(std::move(hooks)),
      command_(std::move(command)),
      environment_(worker_environment(environ)),
      log_(get_logger("supervisor")) {
  std::uint32_t control = 0;
  stages_ = std::vector<Stage>(config_.stages.size());
  retried_.assign(segment_.slot_count(), false);
  order_.assign(segment_.slot_count(), 0);
  stage_of_.assign(segment_.slot_count(), -1);
  exited_busy_ns_.assign(config_.stages.size(), 0);
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    stages_[s].index = s;
    stages_[s].config = &config_.stages[s];
    if (config_.stages[s].ordered) stages_[s].gate.assign(segment_.slot_count(), kNoSlot);
    stages_[s].workers = std::vector<Worker>(static_cast<std::size_t>(config_.stages[s].workers));
    for (auto& w : stages_[s].workers) {
      w.control = control++;
      w.number = stages_[s].next_number++;
    }
  }
  if (control > segment_.worker_capacity()) throw std::logic_error("more workers than worker controls");
  for (std::uint32_t c = segment_.worker_capacity(); c > control; --c) free_controls_.push_back(c - 1);
}

Supervisor::~Supervisor() {
  // ChildProcess's destructor kills and reaps anything still running.
}

std::string Supervisor::worker_name(const Stage& stage, const Worker& w) const {
  return "worker." + stage.config->name + "." + std::to_string(w.number);
}

void Supervisor::spawn(Stage& stage, Worker& w) {
  Segment::Rings rings = segment_.reset_worker(w.control);
  WorkerArgs args;
  args.fd = segment_.frames_fd();
  args.layout_fd = segment_.layout_fd();
  args.stage = static_cast<int>(stage.index);
  args.control = static_cast<int>(w.control);
  args.parent = getpid();
  args.threads = stage.config->opencv_threads;
  args.nice = stage.config->nice;
  args.log_level = config_.log_level;
  args.name = worker_name(stage, w);
  args.width = stage.config->input.width;
  args.height = stage.config->input.height;
  args.type = stage.config->input.type;
  args.max_latency_us = static_cast<int>(stage.config->max_latency_ms * 1000);
  args.base_dir = config_base_dir(config_.file);
  w.in.emplace(rings.in);
  w.out.emplace(rings.out);
  w.process.emplace(ChildProcess::spawn(command_(args), {segment_.frames_fd(), segment_.layout_fd()}, &environment_));
  w.running = true;
  w.killed_as_hung = false;
  w.misbehaved = false;
  w.blamed = kNoSlot;
  w.heartbeat = 0;
  w.heartbeat_at = std::chrono::steady_clock::now();
  log_->debug("worker started name={} pid={}", args.name, w.process->pid());
}

void Supervisor::start() {
  for (auto& stage : stages_)
    for (auto& w : stage.workers) spawn(stage, w);
}

bool Supervisor::wait_ready(std::chrono::milliseconds timeout, const std::function<bool()>& interrupted) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Doorbell& bell = segment_.router_bell();
  for (;;) {
    const std::uint32_t seen = bell.prepare();
    bool all_ready = true;
    for (auto& stage : stages_) {
      for (auto& w : stage.workers) {
        if (segment_.worker(w.control).ready.load(std::memory_order_acquire)) continue;
        if (auto status = w.process->try_wait()) {
          // An op that cannot open, or a bad segment, fails the same way every time: the run ends.
          if (!status->signaled && (status->code == kWorkerExitOpenFailed || status->code == kWorkerExitSetup))
            throw std::runtime_error(worker_name(stage, w) + " failed to start: " + status->describe() +
                                     " (its log line above says why)");
          // Killed (or crashed) while loading: a crash like any other, which the router reaps,
          // counts against limits.crash_limit and restarts. The others need not wait for it.
          child_exited_.store(true, std::memory_order_release);
          continue;
        }
        all_ready = false;
      }
    }
    if (all_ready) return true;
    if (interrupted()) return false;
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("workers not ready after " + std::to_string(timeout.count()) + " ms");
    bell.wait(seen, std::chrono::milliseconds(10));  // also wakes on exits: SIGCHLD is not routed here yet
  }
}

void Supervisor::notify_child_exit() noexcept {
  child_exited_.store(true, std::memory_order_release);
  segment_.router_bell().ring();
}

void Supervisor::stop_now() noexcept {
  stop_now_.store(true, std::memory_order_release);
  segment_.router_bell().ring();
}

void Supervisor::request_workers(std::vector<int> per_stage) {
  {
    std::lock_guard lock(resize_mutex_);
    resize_request_ = std::move(per_stage);
  }
  resize_requested_.store(true, std::memory_order_release);
  segment_.router_bell().ring();
}

void Supervisor::apply_resize(const std::vector<int>& per_stage) {
  for (std::size_t s = 0; s < stages_.size() && s < per_stage.size(); ++s) resize_stage(stages_[s], per_stage[s]);
}

void Supervisor::resize_stage(Stage& stage, int target) {
  const auto active = [&] {
    return static_cast<int>(std::count_if(stage.workers.begin(), stage.workers.end(),
                                          [](const Worker& w) { return !w.retiring && !w.removed; }));
  };
  const int before = active();
  if (target == before) return;
  while (active() < target) {
    if (free_controls_.empty()) {
      log_->error("stage {}: cannot start more than {} workers in all on this run (restart the daemon for more); "
                  "workers={}", stage.config->name, segment_.worker_capacity(), active());
      break;
    }
    Worker w;
    w.control = free_controls_.back();
    free_controls_.pop_back();
    w.number = stage.next_number++;
    stage.workers.push_back(std::move(w));
    Worker& added = stage.workers.back();
    try {
      spawn(stage, added);
    } catch (const std::exception& e) {
      log_->error("worker start failed name={} error=\"{}\"", worker_name(stage, added), e.what());
      schedule_restart(stage, added, std::string("start failed: ") + e.what());
    }
  }
  while (active() > target) {
    // Retire a worker waiting for a restart first (nothing to stop), else the least loaded.
    Worker* victim = nullptr;
    for (auto& w : stage.workers) {
      if (w.retiring || w.removed) continue;
      if (!w.running) {
        victim = &w;
        break;
      }
      if (!victim || w.outstanding.size() < victim->outstanding.size()) victim = &w;
    }
    victim->retiring = true;
    if (!victim->running) {
      remove_worker(*victim);
      continue;
    }
    (void)victim->in->try_push(kStopWorker);  // after the frames it holds: it finishes them first
    segment_.worker(victim->control).bell.ring();
  }
  stats_.stages[stage.index]->workers.store(active(), std::memory_order_relaxed);
  log_->info("stage {} workers {} -> {}", stage.config->name, before, active());
}

void Supervisor::remove_worker(Worker& w) {
  if (w.removed) return;
  w.removed = true;
  w.running = false;
  w.restart_at = {};
  if (w.process) w.process.reset();  // reaped already (or never started)
  free_controls_.push_back(w.control);
}

void Supervisor::erase_removed() {
  for (auto& stage : stages_) std::erase_if(stage.workers, [](const Worker& w) { return w.removed; });
}

void Supervisor::admit(std::uint32_t slot) {
  order_[slot] = next_order_++;
  stage_of_[slot] = -1;
  route(slot, 0);
}

void Supervisor::route(std::uint32_t slot, std::size_t next_stage) {
  retried_[slot] = false;  // each stage may retry it once
  if (next_stage >= stages_.size()) {
    deliver(slot, DropReason::kNone);
    return;
  }
  Stage& stage = stages_[next_stage];
  if (!stage.gate.empty()) {
    gate_put(stage, order_[slot], slot);
    return;
  }
  enter(stage, slot);
}

void Supervisor::gate_put(Stage& stage, std::uint64_t order, std::uint32_t value) {
  const std::size_t n = stage.gate.size();
  if (order < stage.gate_next || order - stage.gate_next >= n || stage.gate[order % n] != kNoSlot) {
    log_->critical("stage {}: frame #{} at the order gate, which expects #{} next", stage.config->name, order,
                   stage.gate_next);
    std::abort();
  }
  stage.gate[order % n] = value;
  // Entering a stage may drop a frame (queue_full), which marks only later stages' gates: this
  // loop is never re-entered for the same stage.
  while (stage.gate[stage.gate_next % n] != kNoSlot) {
    const std::uint32_t next = stage.gate[stage.gate_next % n];
    stage.gate[stage.gate_next % n] = kNoSlot;
    ++stage.gate_next;
    if (next != kGateSkip) enter(stage, next);
  }
}

void Supervisor::enter(Stage& stage, std::uint32_t slot) {
  stage_of_[slot] = static_cast<int>(stage.index);
  // Under block the queue is bounded by the slots: a full pipeline stops capture. Under a drop
  // policy, frames that arrived in the same turn wait here until the turn's dispatch: those a
  // worker has room for go to it first, and only a frame that would still wait counts against the
  // queue.
  const auto full = [&] { return stage.pending.size() >= static_cast<std::size_t>(stage.config->queue); };
  if (stage.config->drop_policy != DropPolicy::kBlock && full()) (void)dispatch(stage);
  if (stage.config->drop_policy != DropPolicy::kBlock && full()) {
    if (stage.config->drop_policy == DropPolicy::kDropNewest) {
      deliver(slot, DropReason::kQueueFull);
      return;
    }
    deliver(stage.pending.front(), DropReason::kQueueFull);
    stage.pending.pop_front();
  }
  stage.pending.push_back(slot);
}

void Supervisor::deliver(std::uint32_t slot, DropReason reason) {
  retried_[slot] = false;
  ++delivered_;
  // Ordered stages it will never reach skip it.
  for (std::size_t s = static_cast<std::size_t>(stage_of_[slot] + 1); s < stages_.size(); ++s)
    if (!stages_[s].gate.empty()) gate_put(stages_[s], order_[slot], kGateSkip);
  stage_of_[slot] = static_cast<int>(stages_.size());
  hooks_.deliver(slot, reason);
}

bool Supervisor::collect(Stage& stage, Worker& w) {
  if (!w.out || w.misbehaved) return false;
  bool any = false;
  std::int64_t now = 0;
  std::uint32_t slot;
  while (w.out->try_pop(slot)) {
    if (now == 0) now = monotonic_ns();
    any = true;
    // A worker returns slots in the order it got them. One that does not is broken (or its
    // memory is): nothing more is taken from it, and it is killed and handled as crashed.
    if (w.outstanding.empty() || w.outstanding.front() != slot) {
      log_->error("worker returned slot {} it was not given name={}: killing it", slot, worker_name(stage, w));
      w.misbehaved = true;
      // The frame it should have handed back is the one it was on when it broke: retried once, as
      // a crashed worker's, or dropped (a frame that breaks every worker must not go round).
      if (!w.outstanding.empty()) w.blamed = w.outstanding.front();
      w.process->signal(SIGKILL);
      return true;
    }
    w.outstanding.pop_front();
    const SlotHeader& h = segment_.slot(slot);
    // What the worker left in the slot is read by the stages after it and the writer: one that
    // leaves what its stage could not have written is broken (or an op scribbled over it).
    if (const std::string bad = slot_left_badly(h, stage.config->output, segment_.buffers_per_slot()); !bad.empty()) {
      log_->error("worker left slot {} with {} name={}: killing it", slot, bad, worker_name(stage, w));
      w.misbehaved = true;
      w.process->signal(SIGKILL);
      deliver(slot, DropReason::kWorkerCrash);
      return true;
    }
    // The hop's own cost: the worker picking the frame up, and the router taking it back.
    stats_.hop.add(h.pickup_ns + (now - h.started_ns - h.ops_ns));
    const DropReason dropped = h.drop == 0 ? DropReason::kNone : drop_reason_from_code(h.drop);
    if (dropped != DropReason::kTooOld) {
      stats_.stages[stage.index]->processed.fetch_add(1, std::memory_order_relaxed);
      stats_.stages[stage.index]->latency.add(static_cast<std::int64_t>(h.ops_ns));
    }
    if (dropped != DropReason::kNone) {
      deliver(slot, dropped);
    } else {
      route(slot, stage.index + 1);
    }
  }
  return any;
}

bool Supervisor::dispatch(Stage& stage) {
  bool any = false;
  std::int64_t now = 0;
  const std::int64_t max_age_ns = static_cast<std::int64_t>(stage.config->max_latency_ms * 1e6);
  while (!stage.pending.empty()) {
    Worker* best = nullptr;
    for (auto& w : stage.workers) {
      if (!w.running || w.retiring) continue;  // restart pending, or being retired
      // A (re)started worker gets frames once its ops are open: none wait on a loading process.
      if (!segment_.worker(w.control).ready.load(std::memory_order_acquire)) continue;
      if (static_cast<int>(w.outstanding.size()) >= kDepth) continue;
      if (!best || w.outstanding.size() < best->outstanding.size()) best = &w;
    }
    if (!best) break;
    const std::uint32_t slot = stage.pending.front();
    stage.pending.pop_front();
    if (now == 0) now = monotonic_ns();
    if (max_age_ns > 0 && now - segment_.slot(slot).meta.capture_ns > max_age_ns) {
      deliver(slot, DropReason::kTooOld);  // the worker checks again when it starts the frame
      any = true;
      continue;
    }
    segment_.slot(slot).dispatched_ns = now;  // before the push: then the slot is the worker's
    std::atomic_ref<std::uint32_t>(segment_.slot(slot).input_intact).store(1, std::memory_order_relaxed);
    if (!best->in->try_push(slot)) {
      // It holds at most kDepth slots and the ring holds them all: only a worker that wrote over
      // the ring's indices makes it look full.
      log_->error("worker's ring reads full name={}: killing it", worker_name(stage, *best));
      best->misbehaved = true;
      best->process->signal(SIGKILL);
      stage.pending.push_front(slot);
      any = true;
      continue;
    }
    best->outstanding.push_back(slot);
    segment_.worker(best->control).bell.ring();
    any = true;
  }
  stats_.stages[stage.index]->queue_depth.store(stage.pending.size(), std::memory_order_relaxed);
  return any;
}

void Supervisor::worker_died(Stage& stage, Worker& w, const std::string& how) {
  // Slots it finished before dying are still good.
  w.running = false;
  collect(stage, w);
  WorkerControl& control = segment_.worker(w.control);
  exited_busy_ns_[stage.index] += control.busy_ns.load();
  const std::uint32_t running = w.blamed != kNoSlot ? w.blamed : control.current_slot.load();
  log_->error("worker died name={} pid={} how=\"{}\" outstanding={}", worker_name(stage, w), w.process->pid(), how,
              w.outstanding.size());
  // Those it had not started go back to the front of the queue. The one it was running is
  // retried once, on the next free worker, if its input is intact (no op had written over it
  // yet); otherwise, or the second time, it is dropped.
  while (!w.outstanding.empty()) {
    const std::uint32_t slot = w.outstanding.back();
    w.outstanding.pop_back();
    if (slot != running) {
      stage.pending.push_front(slot);
    } else if (!retried_[slot] &&
               std::atomic_ref<std::uint32_t>(segment_.slot(slot).input_intact).load(std::memory_order_acquire)) {
      retried_[slot] = true;
      stats_.stages[stage.index]->retries.fetch_add(1, std::memory_order_relaxed);
      log_->warn("frame retried seq={} after its worker died name={}", segment_.slot(slot).meta.seq,
                 worker_name(stage, w));
      stage.pending.push_front(slot);
    } else {
      deliver(slot, DropReason::kWorkerCrash);
    }
  }
  if (w.retiring) {
    remove_worker(w);  // it was leaving anyway: not replaced
    return;
  }
  schedule_restart(stage, w, how);
}

void Supervisor::schedule_restart(Stage& stage, Worker& w, const std::string& how) {
  const auto now = std::chrono::steady_clock::now();
  crash_times_.push_back(now);
  const auto window = std::chrono::duration<double>(config_.crash_window_s);
  std::erase_if(crash_times_, [&](auto t) { return now - t > window; });
  if (static_cast<int>(crash_times_.size()) >= config_.crash_limit) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", config_.crash_window_s);
    hooks_.fatal(kExitInternal, "workers crashed " + std::to_string(crash_times_.size()) + " times within " + seconds +
                                    " s (limits.crash_limit, limits.crash_window): stopping; last: " +
                                    worker_name(stage, w) + " " + how);
    stop_now_.store(true);
    return;
  }
  const auto backoff = std::min<std::chrono::milliseconds>(
      kMaxBackoff, kRestartBackoff * (1 << std::min<std::size_t>(crash_times_.size() - 1, 5)));
  w.restart_at = now + backoff;
  stats_.stages[stage.index]->restarts.fetch_add(1, std::memory_order_relaxed);
  log_->warn("worker restart scheduled name={} in_ms={}", worker_name(stage, w), backoff.count());
}

bool Supervisor::reap_and_restart() {
  bool any = false;
  const auto now = std::chrono::steady_clock::now();
  const bool exited = child_exited_.exchange(false, std::memory_order_acq_rel);
  for (auto& stage : stages_) {
    for (auto& w : stage.workers) {
      if (w.removed) continue;
      if (exited && w.running) {
        if (auto status = w.process->try_wait()) {
          collect(stage, w);
          if (w.retiring && !status->signaled && status->code == kWorkerExitOk && w.outstanding.empty()) {
            // Stopped by a resize after handing back every frame it held.
            exited_busy_ns_[stage.index] += segment_.worker(w.control).busy_ns.load();
            log_->info("worker retired name={} pid={}", worker_name(stage, w), w.process->pid());
            remove_worker(w);
            any = true;
            continue;
          }
          worker_died(stage, w,
                      w.killed_as_hung ? "hung for " + std::to_string(static_cast<int>(config_.frame_timeout_s)) +
                                             " s (limits.frame_timeout), killed"
                                       : status->describe());
          any = true;
          if (stop_now_.load()) return true;
        }
      }
      if (w.restart_at != std::chrono::steady_clock::time_point{} && now >= w.restart_at) {
        w.restart_at = {};
        any = true;
        try {
          spawn(stage, w);
        } catch (const std::exception& e) {  // e.g. EAGAIN: out of processes
          log_->error("worker restart failed name={} error=\"{}\"", worker_name(stage, w), e.what());
          schedule_restart(stage, w, std::string("restart failed: ") + e.what());
          if (stop_now_.load()) return true;
        }
      }
    }
  }
  return any;
}

void Supervisor::kill_hung_workers() {
  const auto now = std::chrono::steady_clock::now();
  if (config_.frame_timeout_s <= 0 || now < next_hang_check_) return;
  next_hang_check_ = now + std::chrono::milliseconds(100);
  const auto timeout = std::chrono::duration<double>(config_.frame_timeout_s);
  for (auto& stage : stages_) {
    for (auto& w : stage.workers) {
      if (!w.running || w.killed_as_hung || w.removed) continue;
      // A worker bumps its heartbeat every turn of its loop: one that holds frames and has not
      // turned for frame_timeout is stuck in an op (or stopped).
      const std::uint64_t beat = segment_.worker(w.control).heartbeat.load(std::memory_order_relaxed);
      if (beat != w.heartbeat || w.outstanding.empty()) {
        w.heartbeat = beat;
        w.heartbeat_at = now;
        continue;
      }
      if (now - w.heartbeat_at < timeout) continue;
      log_->error("worker hung name={} pid={} no_progress_s={:.1f} frames_held={}: killing it", worker_name(stage, w),
                  w.process->pid(), std::chrono::duration<double>(now - w.heartbeat_at).count(), w.outstanding.size());
      w.killed_as_hung = true;
      w.process->signal(SIGKILL);  // reaped, and its frames dealt with, through SIGCHLD as any death
    }
  }
}

void Supervisor::drop_everything(DropReason reason) {
  // Stage by stage, in order: the frames dropped in one let those waiting at a later stage's order
  // gate into that stage's queue, which is dropped in its turn.
  for (auto& stage : stages_) {
    for (auto& w : stage.workers) {
      if (w.process && w.running) {
        w.process->signal(SIGKILL);
        (void)w.process->wait();
      }
      w.running = false;
      collect(stage, w);
      for (std::uint32_t slot : w.outstanding) {
        deliver(slot, reason);
      }
      w.outstanding.clear();
    }
    for (std::uint32_t slot : stage.pending) {
      deliver(slot, reason);
    }
    stage.pending.clear();
  }
}

void Supervisor::run() {
  Doorbell& bell = segment_.router_bell();
  for (;;) {
    const std::uint32_t seen = bell.prepare();
    bool progress = false;
    std::uint32_t slot;
    while (hooks_.next_captured(slot)) {
      admit(slot);
      progress = true;
    }
    if (resize_requested_.exchange(false, std::memory_order_acq_rel)) {
      std::optional<std::vector<int>> request;
      {
        std::lock_guard lock(resize_mutex_);
        request.swap(resize_request_);
      }
      if (request) apply_resize(*request);
      progress = true;
    }
    for (auto& stage : stages_)
      for (auto& w : stage.workers) progress |= collect(stage, w);
    for (auto& stage : stages_) progress |= dispatch(stage);
    for (std::size_t s = 0; s < stages_.size(); ++s)
      stats_.stages[s]->busy_ns.store(busy_ns(s), std::memory_order_relaxed);
    kill_hung_workers();
    if (child_exited_.load(std::memory_order_acquire) || std::any_of(stages_.begin(), stages_.end(), [](const Stage& s) {
          return std::any_of(s.workers.begin(), s.workers.end(),
                             [](const Worker& w) { return w.restart_at != std::chrono::steady_clock::time_point{}; });
        }))
      progress |= reap_and_restart();
    erase_removed();
    if (stop_now_.load(std::memory_order_acquire)) {
      // Take what capture still hands over, then drop all of it.
      while (hooks_.next_captured(slot)) {
        admit(slot);
      }
      drop_everything(DropReason::kAborted);
      std::uint64_t total = 0;
      if (hooks_.capture_finished(total) && delivered_ == total) return;
      bell.wait(seen, std::chrono::milliseconds(20));
      continue;
    }
    std::uint64_t total = 0;
    if (hooks_.capture_finished(total) && delivered_ == total) return;
    if (!progress) bell.wait(seen, std::chrono::milliseconds(100));
  }
}

void Supervisor::stop_workers(std::chrono::milliseconds grace) {
  for (auto& stage : stages_) {
    for (auto& w : stage.workers) {
      if (!w.running || w.process->try_wait()) continue;
      (void)w.in->try_push(kStopWorker);
      segment_.worker(w.control).bell.ring();
    }
  }
  // They finish what they hold and exit; SIGKILL for those that do not within the grace.
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    for (auto& w : stages_[s].workers) {
      if (!w.process) continue;
      while (!w.process->try_wait() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (!w.process->try_wait()) w.process->signal(SIGKILL);  // workers ignore SIGTERM
      const auto status = w.process->wait();
      const bool was_running = w.running;
      if (was_running) exited_busy_ns_[s] += segment_.worker(w.control).busy_ns.load();
      w.running = false;
      stats_.stages[s]->busy_ns.store(busy_ns(s), std::memory_order_relaxed);
      if (was_running && (status.signaled || status.code != 0))
        log_->warn("worker exited name={} how=\"{}\"", worker_name(stages_[s], w), status.describe());
      w.process.reset();
    }
  }
}

std::uint64_t Supervisor::busy_ns(std::size_t s) const {
  std::uint64_t total = exited_busy_ns_[s];
  for (const auto& w : stages_[s].workers)
    if (w.running) total += segment_.worker(w.control).busy_ns.load(std::memory_order_relaxed);
  return total;
}

}  // namespace cvpipe
