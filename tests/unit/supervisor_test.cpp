// The supervisor's routing (pipeline/runtime/supervisor.hpp) with real worker processes: this test
// binary re-run as a child that calls the daemon's own worker_main() on a real segment. The test
// plays capture (it fills slots and hands them over) and the writer (it records what is delivered
// and frees the slot), and checks the order frames leave in, the ordered stage's gate, the retry of
// a crashed worker's frame, the drop policies and live resizing.
#include <gtest/gtest.h>

#include <concurrentqueue.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/core/clock.hpp"
#include "pipeline/ops/op_registry.hpp"
#include "pipeline/runtime/handoff.hpp"
#include "pipeline/runtime/pipeline_loader.hpp"
#include "pipeline/runtime/supervisor.hpp"
#include "pipeline/runtime/worker.hpp"
#include "tests/support/test_child.hpp"

namespace cvpipe {
namespace {

using namespace std::chrono_literals;

// slow_even (this test only): holds frames with an even sequence number for `ms`, lets odd ones
// through at once, so that a stage of two workers finishes frames out of order.
class SlowEvenOp final : public Op {
 public:
  struct Params {
    double ms;
  };
  static constexpr bool kInPlace = true;
  static Params parse(ConfigReader& r) { return {r.number("ms", 20, 0, 1000)}; }
  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("slow_even expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }
  explicit SlowEvenOp(const Params& p) : p_(p) {}
  Status process(const cv::Mat&, cv::Mat&, FrameMeta& meta) override {
    if (meta.seq % 2 == 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(p_.ms));
    return Status::ok();
  }

 private:
  Params p_;
};

}  // namespace

CVPIPE_REGISTER_TEST_OP(SlowEvenOp, "slow_even", "holds even frames for `ms` (supervisor test only)",
                        "- op: slow_even\n  ms: 1")

// The worker process: the daemon's own worker_main() with the arguments the supervisor gave.
CVPIPE_TEST_CHILD(supervisor_worker) {
  WorkerArgs args;
  if (!parse_worker_args(argc, argv, args)) return 2;
  return worker_main(args);
}

namespace {

struct Delivered {
  std::uint64_t seq;
  DropReason reason;
};

// A supervisor over a real segment and real worker processes, fed by the test.
class Routing {
 public:
  explicit Routing(const std::string& stages_yaml, int slots = 8) {
    const std::string text = "source: {type: synthetic, width: 32, height: 24, frames: 100000}\nstages:\n" +
                             stages_yaml + "sink: {type: \"null\"}\nbuffers: {slots: " + std::to_string(slots) +
                             "}\nlimits: {crash_limit: 20}\nlog: {level: warn}\n";
    (void)parse_and_resolve(text, "routing.yaml", "", {}, config_);
    int workers = 0;
    for (const auto& stage : config_.stages) {
      auto st = std::make_unique<StageStats>();
      st->name = stage.name;
      st->workers = stage.workers;
      stats_.stages.push_back(std::move(st));
      workers += stage.workers;
    }
    SegmentSizes sizes;
    sizes.slots = static_cast<std::uint32_t>(config_.slots);
    sizes.buffers_per_slot = static_cast<std::uint32_t>(config_.buffers_per_slot);
    sizes.frame_bytes = config_.frame_bytes;
    sizes.worker_capacity = static_cast<std::uint32_t>(workers + 8);
    sizes.config_text = config_.resolved_yaml;
    segment_.emplace(Segment::create(sizes));
    for (std::uint32_t i = 0; i < segment_->slot_count(); ++i) free_.enqueue(i);

    Supervisor::Hooks hooks;
    hooks.next_captured = [this](std::uint32_t& slot) { return captured_.try_dequeue(slot); };
    hooks.capture_finished = [this](std::uint64_t& total) {
      if (!capture_done_.load(std::memory_order_acquire)) return false;
      total = fed_;
      return true;
    };
    hooks.deliver = [this](std::uint32_t slot, DropReason reason) {
      {
        const std::lock_guard lock(mutex_);
        delivered_.push_back({segment_->slot(slot).meta.seq, reason});
      }
      free_.enqueue(slot);
    };
    hooks.fatal = [this](int, const std::string& message) {
      const std::lock_guard lock(mutex_);
      fatal_.push_back(message);
    };
    const auto command = [](const WorkerArgs& args) {
      const std::vector<std::string> argv = worker_argv(args);  // /proc/self/exe --worker ARGS...
      return test_child_argv("supervisor_worker", {argv.begin() + 2, argv.end()});
    };
    supervisor_ = std::make_unique<Supervisor>(config_, *segment_, stats_, std::move(hooks), command);
    supervisor_->start();
    if (!supervisor_->wait_ready(10s, [] { return false; })) throw std::runtime_error("workers not ready");
    router_ = std::thread([this] {
      supervisor_->run();
      supervisor_->stop_workers(2s);
      router_done_.store(true);
    });
    // What the daemon's signal thread does on SIGCHLD: the router reaps and reacts.
    reaper_ = std::thread([this] {
      while (!router_done_.load()) {
        supervisor_->notify_child_exit();
        std::this_thread::sleep_for(5ms);
      }
    });
  }

  ~Routing() {
    if (!router_done_.load()) supervisor_->stop_now();
    capture_done_.store(true, std::memory_order_release);
    segment_->router_bell().ring();
    if (router_.joinable()) router_.join();
    if (reaper_.joinable()) reaper_.join();
  }

  // Hands `count` frames to the pipeline as capture does (waiting up to 5 s for each free slot).
  void feed(std::uint64_t count, std::chrono::milliseconds between = 0ms) {
    const FrameFormat f = config_.source_format;
    for (std::uint64_t i = 0; i < count; ++i) {
      std::uint32_t slot;
      ASSERT_TRUE(free_.wait_dequeue_timed(slot, 5s)) << "no slot freed for frame " << fed_;
      SlotHeader& h = segment_->slot(slot);
      h.meta = FrameMeta{};
      h.meta.seq = fed_;
      h.meta.capture_ns = monotonic_ns();
      h.width = f.width;
      h.height = f.height;
      h.type = f.type;
      h.buffer = 0;
      h.drop = 0;
      h.opencv_threads = 0;
      h.error[0] = '\0';
      std::memset(segment_->buffer(slot, 0), static_cast<int>(fed_ & 0xff), f.bytes());
      ++fed_;
      captured_.enqueue(slot);
      segment_->router_bell().ring();
      if (between > 0ms) std::this_thread::sleep_for(between);
    }
  }

  // Capture ends; waits up to `timeout` for the router to deliver everything and stop.
  bool finish(std::chrono::milliseconds timeout = 20s) {
    capture_done_.store(true, std::memory_order_release);
    segment_->router_bell().ring();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!router_done_.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return router_done_.load();
  }

  std::vector<Delivered> delivered() {
    const std::lock_guard lock(mutex_);
    return delivered_;
  }
  std::size_t delivered_count() {
    const std::lock_guard lock(mutex_);
    return delivered_.size();
  }
  std::vector<std::string> fatal() {
    const std::lock_guard lock(mutex_);
    return fatal_;
  }
  Supervisor& supervisor() { return *supervisor_; }
  std::uint64_t fed() const { return fed_; }
  // How many worker processes have run a frame (each had a worker control of its own).
  int workers_that_ran_frames() const {
    int n = 0;
    for (std::uint32_t c = 0; c < segment_->worker_capacity(); ++c)
      n += segment_->worker(c).frames_processed.load() > 0 ? 1 : 0;
    return n;
  }
  StageStats& stage(std::size_t s) { return *stats_.stages[s]; }
  RunStats& stats() { return stats_; }

 private:
  PipelineConfig config_;
  RunStats stats_;
  std::optional<Segment> segment_;
  SlotQueue free_;
  moodycamel::ConcurrentQueue<std::uint32_t> captured_;
  std::atomic<bool> capture_done_{false};
  std::uint64_t fed_ = 0;
  std::unique_ptr<Supervisor> supervisor_;
  std::thread router_, reaper_;
  std::atomic<bool> router_done_{false};
  std::mutex mutex_;
  std::vector<Delivered> delivered_;
  std::vector<std::string> fatal_;
};

std::vector<std::uint64_t> seqs(const std::vector<Delivered>& d) {
  std::vector<std::uint64_t> out;
  for (const auto& x : d) out.push_back(x.seq);
  return out;
}

std::vector<std::uint64_t> zero_to(std::uint64_t n) {
  std::vector<std::uint64_t> out(n);
  for (std::uint64_t i = 0; i < n; ++i) out[i] = i;
  return out;
}

bool all_written(const std::vector<Delivered>& d) {
  return std::all_of(d.begin(), d.end(), [](const Delivered& x) { return x.reason == DropReason::kNone; });
}

TEST(SupervisorRouting, OneWorkerDeliversEveryFrameInTheOrderItCame) {
  Routing r("  - name: a\n    workers: 1\n    ops: [{op: gaussian_blur, ksize: 3}]\n");
  r.feed(30);
  ASSERT_TRUE(r.finish());
  const auto d = r.delivered();
  EXPECT_EQ(seqs(d), zero_to(30));
  EXPECT_TRUE(all_written(d));
  EXPECT_EQ(r.stage(0).processed.load(), 30u);
  EXPECT_GT(r.stats().hop.count(), 0u);
}

TEST(SupervisorRouting, AParallelStageFinishesFramesOutOfOrder) {
  // The premise of the next test: without an ordered stage after it, the order is lost.
  Routing r("  - name: a\n    workers: 2\n    ops: [{op: slow_even, ms: 30}]\n");
  r.feed(8);
  ASSERT_TRUE(r.finish());
  const auto d = r.delivered();
  ASSERT_EQ(d.size(), 8u);
  EXPECT_NE(seqs(d), zero_to(8));
}

TEST(SupervisorRouting, AnOrderedStageGetsFramesInCaptureOrderAfterAParallelOne) {
  Routing r("  - name: a\n    workers: 2\n    ops: [{op: slow_even, ms: 30}]\n"
            "  - name: b\n    ordered: true\n    ops: [{op: identity}]\n");
  r.feed(12);
  ASSERT_TRUE(r.finish());
  const auto d = r.delivered();
  EXPECT_EQ(seqs(d), zero_to(12));  // stage b's one worker ran them in capture order
  EXPECT_TRUE(all_written(d));
}

TEST(SupervisorRouting, AFrameDroppedBeforeAnOrderedStageIsSkippedByItsGate) {
  // Frame 3 fails in stage a (a poison frame); stage b must not wait for it.
  Routing r("  - name: a\n    workers: 2\n    ops: [{op: slow_even, ms: 10}, {op: crash, seq: 3}]\n"
            "  - name: b\n    ordered: true\n    ops: [{op: identity}]\n");
  r.feed(10);
  ASSERT_TRUE(r.finish());
  const auto d = r.delivered();
  ASSERT_EQ(d.size(), 10u);
  std::vector<std::uint64_t> written;
  for (const auto& x : d) {
    if (x.seq == 3) EXPECT_EQ(x.reason, DropReason::kWorkerCrash);
    else written.push_back(x.seq);
  }
  EXPECT_EQ(written, (std::vector<std::uint64_t>{0, 1, 2, 4, 5, 6, 7, 8, 9}));
}

TEST(SupervisorRouting, TheFrameACrashedWorkerWasRunningIsRetriedAndTheWorkerRestarted) {
  // Every worker process dies on its third frame; median_blur writes the slot's second buffer, so
  // the input is still there to run again.
  Routing r("  - name: a\n    workers: 1\n    ops: [{op: median_blur, ksize: 3}, {op: crash, every: 3}]\n");
  r.feed(7);
  ASSERT_TRUE(r.finish());
  const auto d = r.delivered();
  EXPECT_EQ(seqs(d), zero_to(7));
  EXPECT_TRUE(all_written(d));
  EXPECT_EQ(r.stage(0).retries.load(), 3u);  // frames 2, 4 and 6, each a new worker's first
  EXPECT_EQ(r.stage(0).restarts.load(), 3u);
  EXPECT_TRUE(r.fatal().empty());
}

TEST(SupervisorRouting, APoisonFrameIsRetriedOnceThenDroppedAsWorkerCrash) {
  Routing r("  - name: a\n    workers: 1\n    ops: [{op: median_blur, ksize: 3}, {op: crash, seq: 3}]\n");
  r.feed(6);
  ASSERT_TRUE(r.finish());
  const auto d = r.delivered();
  ASSERT_EQ(d.size(), 6u);
  for (const auto& x : d) EXPECT_EQ(x.reason, x.seq == 3 ? DropReason::kWorkerCrash : DropReason::kNone) << x.seq;
  EXPECT_EQ(r.stage(0).retries.load(), 1u);
  EXPECT_EQ(r.stage(0).restarts.load(), 2u);
}

TEST(SupervisorRouting, AFrameWhoseInputWasWrittenOverIsNotRetried) {
  // crash works in place: by the time it runs, the input is gone.
  Routing r("  - name: a\n    workers: 1\n    ops: [{op: crash, seq: 2}]\n");
  r.feed(5);
  ASSERT_TRUE(r.finish());
  const auto d = r.delivered();
  ASSERT_EQ(d.size(), 5u);
  for (const auto& x : d) EXPECT_EQ(x.reason, x.seq == 2 ? DropReason::kWorkerCrash : DropReason::kNone) << x.seq;
  EXPECT_EQ(r.stage(0).retries.load(), 0u);
  EXPECT_EQ(r.stage(0).restarts.load(), 1u);
}

// Frames 0 and 1 go to the one worker (it holds two), frame 2 waits in the queue, and 3 to 9 arrive
// while the worker is still on frame 0. The pauses leave the router time to dispatch each group.
void feed_while_the_worker_is_busy(Routing& r) {
  r.feed(2);
  std::this_thread::sleep_for(100ms);
  r.feed(1);
  std::this_thread::sleep_for(100ms);
  r.feed(7);
}

TEST(SupervisorRouting, DropOldestDropsTheOldestWaitingFrameWhenTheQueueIsFull) {
  // One slow worker holds two frames; the queue in front of it holds one more.
  Routing r("  - name: a\n    workers: 1\n    drop_policy: drop_oldest\n    queue: 1\n    ops: [{op: sleep, ms: 400}]\n",
            16);
  feed_while_the_worker_is_busy(r);
  ASSERT_TRUE(r.finish());
  const auto d = r.delivered();
  ASSERT_EQ(d.size(), 10u);
  std::vector<std::uint64_t> written;
  std::size_t dropped = 0;
  for (const auto& x : d) {
    ASSERT_TRUE(x.reason == DropReason::kNone || x.reason == DropReason::kQueueFull);
    if (x.reason == DropReason::kNone) written.push_back(x.seq);
    else ++dropped;
  }
  EXPECT_EQ(dropped, 7u);
  EXPECT_EQ(written, (std::vector<std::uint64_t>{0, 1, 9})) << "each arrival pushed out the oldest waiting frame";
}

TEST(SupervisorRouting, DropNewestDropsTheArrivingFrameWhenTheQueueIsFull) {
  Routing r("  - name: a\n    workers: 1\n    drop_policy: drop_newest\n    queue: 1\n    ops: [{op: sleep, ms: 400}]\n",
            16);
  feed_while_the_worker_is_busy(r);
  ASSERT_TRUE(r.finish());
  const auto d = r.delivered();
  ASSERT_EQ(d.size(), 10u);
  std::vector<std::uint64_t> written;
  for (const auto& x : d)
    if (x.reason == DropReason::kNone) written.push_back(x.seq);
  // The worker took 0 and 1, the queue 2; 3 to 9 arrived while it was full.
  EXPECT_EQ(written, (std::vector<std::uint64_t>{0, 1, 2}));
}

TEST(SupervisorRouting, ResizingAddsAndRetiresWorkersWithoutDroppingAFrame) {
  Routing r("  - name: a\n    workers: 1\n    ops: [{op: sleep, ms: 15}]\n", 12);
  r.feed(10, 5ms);
  r.supervisor().request_workers({3});
  for (int i = 0; i < 300 && r.workers_that_ran_frames() < 3; ++i) r.feed(1, 5ms);
  EXPECT_EQ(r.workers_that_ran_frames(), 3);
  EXPECT_EQ(r.stage(0).workers.load(), 3);
  r.supervisor().request_workers({1});
  r.feed(20, 5ms);
  ASSERT_TRUE(r.finish());
  EXPECT_EQ(r.stage(0).workers.load(), 1);
  const auto d = r.delivered();
  std::vector<std::uint64_t> got = seqs(d);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, zero_to(r.fed()));
  EXPECT_TRUE(all_written(d));
  EXPECT_EQ(r.stage(0).restarts.load(), 0u) << "a retired worker is not a crash";
}

}  // namespace
}  // namespace cvpipe
