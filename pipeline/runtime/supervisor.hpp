#pragma once
// Supervisor: owns the worker processes and moves slot indices between the stages.
//
// It runs on one daemon thread (the router), which is the only producer of every worker's `in`
// ring and the only consumer of every `out` ring, so all rings are single-producer,
// single-consumer. Each turn it takes newly captured slots, collects finished ones from the
// workers, routes each to the next stage (or to the writer), and hands waiting slots to the least
// loaded worker of their stage (at most kDepth outstanding per worker, so a slow worker does not
// collect a queue). It sleeps on the segment's router doorbell when there is nothing to do.
//
// Real time: a stage with a drop policy holds at most `queue` waiting frames; one more drops the
// oldest (drop_oldest) or the arriving one (drop_newest) as queue_full. A frame older than the
// stage's max_latency_ms is dropped as too_old instead of dispatched (its worker checks again
// when it starts). Under block the queue is bounded by the slots alone.
//
// Live resizing: request_workers() (from any thread; SIGHUP with a changed config) sets each
// stage's worker count. The router starts new workers (they get frames once ready) and retires
// surplus ones with the stop marker: a retiring worker gets no new frames, finishes and hands back
// what it holds, and exits; nothing is dropped. Worker controls are reused, up to the segment's
// worker capacity.
//
// Ordered stages (a stateful op such as motion, or `ordered: true`) run one worker, and a gate in
// front of each puts the frames back in capture order: frames leave a parallel stage before it in
// any order, and one that is dropped on the way (queue_full, too_old, error, worker_crash) is
// skipped, so the gate never waits for it. The router numbers frames as capture hands them over
// (capture's single queue keeps their order) and knows, for each frame, the last stage it entered.
//
// A worker that dies is noticed through SIGCHLD (the daemon's signal thread calls
// notify_child_exit()), its finished slots are collected, the slot it was running is dropped
// (reason worker_crash), the slots it had not started go back to the front of the stage's queue,
// and a new worker is started after a backoff. Too many crashes in a window end the run.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/core/child_process.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/run_stats.hpp"
#include "pipeline/runtime/segment.hpp"
#include "pipeline/runtime/worker.hpp"

namespace cvpipe {

class Supervisor {
 public:
  static constexpr int kDepth = 2;  // slots outstanding per worker: one running, one queued

  struct Hooks {
    // Takes the next captured slot, if any (non-blocking).
    std::function<bool(std::uint32_t&)> next_captured;
    // True once capture has ended and `captured_total` frames were handed over.
    std::function<bool(std::uint64_t& captured_total)> capture_finished;
    // A slot is done: written next, or dropped for `reason`.
    std::function<void(std::uint32_t slot, DropReason reason)> deliver;
    // A fatal error: the run must stop (exit code and one-line message).
    std::function<void(int exit_code, const std::string& message)> fatal;
  };

  // The argv that starts a worker process with `args`: `cvpipe --worker ...` (worker_argv()). A
  // test starts its own binary in the worker's place, running the same worker_main().
  using WorkerCommand = std::function<std::vector<std::string>(const WorkerArgs&)>;

  Supervisor(const PipelineConfig& config, Segment& segment, RunStats& stats, Hooks hooks,
             WorkerCommand command = worker_argv);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Spawns every worker. Throws std::system_error if the first spawn fails.
  void start();
  // Waits until every worker has opened its ops. Throws std::runtime_error naming the worker if
  // one exits first (e.g. an op cannot open) or `timeout` passes. Call before frames flow.
  // Returns false, without waiting further, as soon as `interrupted()` says so.
  bool wait_ready(std::chrono::milliseconds timeout, const std::function<bool()>& interrupted);
  // The router loop; returns when every captured frame was delivered, or after stop_now().
  void run();
  // Called from any thread (the signal thread on SIGCHLD): reap and react on the next turn.
  void notify_child_exit() noexcept;
  // Ends run() at the next turn: outstanding frames are dropped as aborted.
  void stop_now() noexcept;
  // Called from any thread: sets the worker count of every stage (one entry per stage), applied
  // by the router on its next turn.
  void request_workers(std::vector<int> per_stage);
  // Stops every worker (stop marker, then SIGTERM/SIGKILL after `grace`) and reaps it.
  void stop_workers(std::chrono::milliseconds grace);

 private:
  // Busy nanoseconds of stage `s` so far (exited and live workers); published to RunStats.
  std::uint64_t busy_ns(std::size_t s) const;

  struct Worker {
    std::uint32_t control = 0;
    std::optional<ChildProcess> process;
    bool running = false;                   // spawned and not seen dead
    std::optional<SpscRing> in, out;        // views of its rings in the segment
    std::deque<std::uint32_t> outstanding;  // dispatched, in order; front is running or next
    std::chrono::steady_clock::time_point restart_at{};
    std::uint64_t heartbeat = 0;                          // as last seen
    std::chrono::steady_clock::time_point heartbeat_at{};  // when it last changed
    bool killed_as_hung = false;
    bool misbehaved = false;  // handed back a slot it was not given: killed, nothing more read from it
    std::uint32_t blamed = kNoSlot;  // then the slot it should have handed back: treated as the one it ran
    bool retiring = false;  // sent the stop marker by a resize: no new frames, not restarted
    bool removed = false;   // gone for good: erased at the end of the turn, its control freed
    int number = 0;  // within the stage, for the logger name
  };
  struct Stage {
    std::size_t index = 0;
    const StageConfig* config = nullptr;
    // Ordered stages only: frames wait here until every frame captured before them has entered
    // the stage or left the pipeline. By capture order modulo the slot count: a slot, kGateSkip,
    // or kNoSlot. Frames in flight hold distinct slots, so they never collide.
    std::vector<std::uint32_t> gate;
    std::uint64_t gate_next = 0;  // the capture order the gate lets through next
    std::deque<std::uint32_t> pending;
    std::vector<Worker> workers;
    int next_number = 0;  // for the next worker's name
  };

  static constexpr std::uint32_t kGateSkip = 0xFFFFFFFDu;

  void spawn(Stage& stage, Worker& w);
  // A slot newly handed over by capture: numbered, then routed to the first stage.
  void admit(std::uint32_t slot);
  void route(std::uint32_t slot, std::size_t next_stage);
  // The frame joins the stage's queue (its drop policy applies).
  void enter(Stage& stage, std::uint32_t slot);
  // Records `value` (a slot, or kGateSkip) for capture order `order` at an ordered stage's gate,
  // and lets through every frame that is next in order.
  void gate_put(Stage& stage, std::uint64_t order, std::uint32_t value);
  // The end of a frame's way through the stages: to the writer, written or dropped for `reason`.
  void deliver(std::uint32_t slot, DropReason reason);
  bool collect(Stage& stage, Worker& w);
  bool dispatch(Stage& stage);
  bool reap_and_restart();
  void kill_hung_workers();
  void worker_died(Stage& stage, Worker& w, const std::string& how);
  // Counts a crash; after too many in the window, ends the run; else restarts after a backoff.
  void schedule_restart(Stage& stage, Worker& w, const std::string& how);
  void drop_everything(DropReason reason);
  void apply_resize(const std::vector<int>& per_stage);
  void resize_stage(Stage& stage, int target);
  // A worker that is gone for good (retired, or of a retired slot): its busy time is kept, its
  // control goes back to the free list.
  void remove_worker(Worker& w);
  void erase_removed();
  std::string worker_name(const Stage& stage, const Worker& w) const;

  const PipelineConfig& config_;
  Segment& segment_;
  RunStats& stats_;
  Hooks hooks_;
  WorkerCommand command_;
  std::vector<std::string> environment_;  // what workers inherit (core/sandbox.hpp)
  std::vector<Stage> stages_;
  std::vector<std::uint64_t> exited_busy_ns_;
  std::atomic<bool> child_exited_{false};
  std::atomic<bool> stop_now_{false};
  std::uint64_t delivered_ = 0;  // frames handed to the writer (written or dropped)
  std::vector<std::chrono::steady_clock::time_point> crash_times_;
  std::vector<bool> retried_;  // by slot: already retried once in its current stage
  std::vector<std::uint64_t> order_;  // by slot: its frame's position in capture order
  std::vector<int> stage_of_;         // by slot: the last stage its frame entered (-1: none yet)
  std::uint64_t next_order_ = 0;
  std::vector<std::uint32_t> free_controls_;  // worker controls no process uses
  std::mutex resize_mutex_;
  std::optional<std::vector<int>> resize_request_;  // guarded by resize_mutex_
  std::atomic<bool> resize_requested_{false};
  std::chrono::steady_clock::time_point next_hang_check_{};
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace cvpipe
