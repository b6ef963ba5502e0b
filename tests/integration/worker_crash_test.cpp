// Workers that crash, hang or are killed, on the real path (the hidden `crash` op and real
// signals): the frame a dead worker was running is retried once and then dropped as
// worker_crash, output stays in order, and a crash loop ends the run with exit 70 and a playable
// output.
#include <signal.h>

#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kClipFrames = 40;

class WorkerCrash : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(make_clip(path("clip.mkv"), {160, 120}, kClipFrames));
  }

  // The clip through median_blur and then `crash_op` (a flow mapping, e.g. "{op: crash, seq: 5}")
  // on two workers into PNGs in `out`. median_blur writes the slot's second buffer, so the
  // stage's input is intact when the crash op runs: a retry is possible.
  std::string config(const std::string& name, const std::string& crash_op, const std::string& limits = "") {
    return write(name + ".yaml", "source: {type: file, path: clip.mkv}\n"
                                 "stages:\n"
                                 "  - name: work\n"
                                 "    workers: 2\n"
                                 "    ops: [{op: median_blur, ksize: 3}, " + crash_op + "]\n"
                                 "sink: {type: images, path: " + name + "/%03d.png}\n" + limits);
  }

  // What the chain writes without crashes.
  std::vector<cv::Mat> expected_frames() {
    const RunResult r = run_cvpipe({"run", config("expected", "{op: identity}"), "--inline"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return read_images(path("expected"));
  }
};

TEST_F(WorkerCrash, AFrameWhoseWorkerDiedIsRetriedOnAnotherAndNothingIsLost) {
  // Each worker process dies on its 15th frame; its replacement starts counting again.
  const RunResult r = run_cvpipe({"run", config("out", "{op: crash, every: 15, how: segv}")});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_written"), kClipFrames);
  EXPECT_EQ(s.integer("frames_dropped"), 0);
  EXPECT_GE(stage_in(s, "work").integer("restarts"), 2);
  EXPECT_EQ(stage_in(s, "work").integer("retries"), stage_in(s, "work").integer("restarts"))
      << "every crash happened on a frame, and each such frame was retried";
  EXPECT_EQ(compare_frames(expected_frames(), read_images(path("out"))), "");
}

// A frame that crashes every worker (a poison frame) is tried twice, then dropped; the run goes on.
class PoisonFrame : public WorkerCrash, public ::testing::WithParamInterface<std::string> {};

TEST_P(PoisonFrame, IsRetriedOnceThenDroppedAsWorkerCrash) {
  const std::string how = GetParam();
  const RunResult r = run_cvpipe(
      {"run", config("out", "{op: crash, seq: 10, how: " + how + "}", "limits: {frame_timeout: 0.5}\n")});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), kClipFrames);
  EXPECT_EQ(s.integer("frames_written"), kClipFrames - 1);
  EXPECT_EQ(s["dropped"].integer("worker_crash"), 1);
  EXPECT_EQ(s.integer("frames_dropped"), 1);
  EXPECT_EQ(stage_in(s, "work").integer("retries"), 1);
  EXPECT_EQ(stage_in(s, "work").integer("restarts"), 2);
  if (how == "hang") {
    EXPECT_NE(r.err.find("worker hung"), std::string::npos) << describe(r);
  }

  // Every other frame, in order, exactly as without the crash.
  std::vector<cv::Mat> expected = expected_frames();
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kClipFrames));
  expected.erase(expected.begin() + 10);
  EXPECT_EQ(compare_frames(expected, read_images(path("out"))), "");
  EXPECT_FALSE(exists(path("out/010.png")));
}

INSTANTIATE_TEST_SUITE_P(How, PoisonFrame, ::testing::Values("segv", "abort", "exit", "hang"),
                         [](const auto& param_info) { return param_info.param; });

TEST_F(WorkerCrash, ACrashLoopStopsTheRunWithExit70AndAPlayableOutput) {
  const std::string config = write("loop.yaml", "source: {type: file, path: clip.mkv}\n"
                                                "stages:\n"
                                                "  - name: work\n"
                                                "    ops: [{op: median_blur, ksize: 3}, {op: crash, every: 4}]\n"
                                                "sink: {type: video, path: out.avi, fourcc: MJPG}\n"
                                                "limits: {crash_limit: 3, crash_window: 60}\n");
  const RunResult r = run_cvpipe({"run", config});

  EXPECT_EQ(r.exit_code, 70) << describe(r);
  EXPECT_NE(r.err.find("workers crashed 3 times within 60 s"), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("exit_code"), 70);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
  ASSERT_GT(s.integer("frames_written"), 0);
  EXPECT_EQ(static_cast<long long>(read_video(path("out.avi")).size()), s.integer("frames_written"))
      << "the output is finalized and holds every frame written";
}

// A worker killed by any signal at a random moment: the run goes on and accounts for every frame.
class WorkerSignal : public CvpipeTest, public ::testing::WithParamInterface<int> {};

TEST_P(WorkerSignal, TheRunGoesOnAndAccountsForEveryFrame) {
  const int sig = GetParam();
  constexpr int kFrames = 150;
  const std::string config = write(
      "paced.yaml", "source: {type: synthetic, width: 160, height: 120, fps: 100, frames: " + std::to_string(kFrames) +
                        ", pace: realtime, buffer: 150, drop_policy: block}\n"
                        "stages:\n  - name: blur\n    workers: 2\n    drop_policy: block\n"
                        "    ops: [{op: gaussian_blur, ksize: 5}]\n"
                        "sink: {type: \"null\"}\nlimits: {frame_timeout: 0.5}\n");
  RunningProgram daemon = start_cvpipe({"run", config});
  std::vector<pid_t> workers;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (workers.size() < 2 && std::chrono::steady_clock::now() < deadline && !daemon.has_exited()) {
    std::this_thread::sleep_for(20ms);
    workers = worker_pids_of(daemon.pid());
  }
  ASSERT_EQ(workers.size(), 2u);
  // A moment that differs from run to run, while frames flow.
  std::this_thread::sleep_for(std::chrono::milliseconds(200 + (::getpid() % 7) * 50));
  ASSERT_EQ(::kill(workers.front(), sig), 0);
  const RunResult r = finish_cvpipe(daemon, 60s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), kFrames);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
  // gaussian_blur writes the second buffer: a frame caught in a dying worker is retried, not lost.
  EXPECT_EQ(s.integer("frames_dropped"), 0) << describe(r);
  const bool ignored = sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGUSR1 || sig == SIGPIPE;
  if (ignored) {
    EXPECT_EQ(stage_in(s, "blur").integer("restarts"), 0) << "workers ignore " << strsignal(sig);
  } else {
    EXPECT_GE(stage_in(s, "blur").integer("restarts"), 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Signals, WorkerSignal,
                         ::testing::Values(SIGKILL, SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGSTOP, SIGTERM,
                                           SIGINT, SIGHUP, SIGUSR1, SIGPIPE),
                         [](const auto& param_info) { return std::string(sigabbrev_np(param_info.param)); });

}  // namespace
}  // namespace cvpipe
