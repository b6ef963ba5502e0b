// A worker killed mid-run is replaced; the run goes on and accounts for every frame.
#include <signal.h>

#include <algorithm>
#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kFrames = 300;  // 3 s at 100 fps, paced

class WorkerRestart : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    if (HasFatalFailure()) return;
    config_ = write("pipeline.yaml", R"(source:
  type: synthetic
  width: 320
  height: 240
  fps: 100
  frames: 300
  pace: realtime
  buffer: 300  # the count below holds even if the test machine stalls capture
stages:
  - name: blur
    workers: 2
    ops:
      - op: gaussian_blur
        ksize: 5
sink:
  type: "null"
)");
  }

  // Starts the daemon, SIGKILLs one of its two workers about 0.8 s in, and waits up to 3 s for a
  // replacement to appear; then lets the run finish.
  RunResult run_and_kill_a_worker() {
    RunningProgram daemon = start_cvpipe({"run", config_});
    const auto started = std::chrono::steady_clock::now();
    std::vector<pid_t> workers;
    while (std::chrono::steady_clock::now() < started + 10s && !daemon.has_exited()) {
      workers = worker_pids_of(daemon.pid());
      if (workers.size() == 2 && std::chrono::steady_clock::now() >= started + 800ms) break;
      std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(workers.size(), 2u) << "the daemon's workers did not show up";
    if (workers.size() == 2 && !daemon.has_exited()) {
      victim_ = workers.front();
      EXPECT_EQ(::kill(victim_, SIGKILL), 0);
      const auto killed = std::chrono::steady_clock::now();
      while (replacement_ == 0 && std::chrono::steady_clock::now() < killed + 3s && !daemon.has_exited()) {
        for (pid_t pid : worker_pids_of(daemon.pid()))
          if (std::find(workers.begin(), workers.end(), pid) == workers.end()) replacement_ = pid;
        std::this_thread::sleep_for(10ms);
      }
    }
    return finish_cvpipe(daemon);
  }

  std::string config_;
  pid_t victim_ = 0, replacement_ = 0;
};

TEST_F(WorkerRestart, AKilledWorkerIsReplacedAndTheRunSucceeds) {
  const RunResult r = run_and_kill_a_worker();

  ASSERT_NE(victim_, 0) << describe(r);
  EXPECT_NE(replacement_, 0) << "no new worker appeared within 3 s of killing " << victim_;
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json summary = summary_of(r);
  EXPECT_EQ(summary.integer("frames_read"), kFrames);
  EXPECT_EQ(summary.integer("frames_read"), summary.integer("frames_written") + summary.integer("frames_dropped"));
  const Json& dropped = summary["dropped"];
  EXPECT_LE(dropped.integer("worker_crash"), 1) << "only the frame the worker was running may be lost";
  EXPECT_EQ(dropped.integer("error"), 0);
  EXPECT_EQ(dropped.integer("aborted"), 0);
  EXPECT_GE(stage_in(summary, "blur").integer("restarts"), 1);
}

// The replacement is told to stop at the end like any worker; a SIGTERM would mean it was not
// (and the daemon logs a warning a user must not see after a clean run).
TEST_F(WorkerRestart, TheReplacementIsStoppedCleanlyAtTheEnd) {
  const RunResult r = run_and_kill_a_worker();

  ASSERT_NE(replacement_, 0) << describe(r);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.err.find("killed by signal 15"), std::string::npos)
      << "a worker was killed by SIGTERM instead of stopping\n" << describe(r);
}

// A worker killed while it loads (here: an op whose open() takes a second) is a crash like any
// other: restarted, not the end of the run. Only an op that fails to open ends it (exit 70).
TEST_F(WorkerRestart, AWorkerKilledWhileStartingIsRestarted) {
  const std::string config = write("slow.yaml", R"(source: {type: synthetic, width: 160, height: 120, frames: 50}
stages:
  - name: slow
    workers: 2
    ops: [{op: sleep, ms: 1, open_ms: 1000}]
sink: {type: "null"}
)");
  RunningProgram daemon = start_cvpipe({"run", config});
  const std::vector<pid_t> workers = wait_for_workers(daemon, 2);
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_EQ(::kill(workers.front(), SIGSEGV), 0);  // well within its one-second open()
  const RunResult r = finish_cvpipe(daemon, 60s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_written"), 50);
  EXPECT_EQ(stage_in(s, "slow").integer("restarts"), 1);
}

}  // namespace
}  // namespace cvpipe
