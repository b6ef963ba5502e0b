// SIGHUP re-reads the config: worker counts change while capture goes on, without losing a frame
// of a file; other changes are logged and ignored; a broken file leaves the run as it was.
#include <signal.h>

#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kClipFrames = 300;

class Reload : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(make_clip(path("clip.mkv"), {160, 120}, kClipFrames));
  }

  // 10 ms per frame and worker: one worker takes 3 s for the clip.
  std::string config(int workers, int sleep_ms = 10) {
    return write("pipeline.yaml", "source: {type: file, path: clip.mkv}\n"
                                  "stages:\n"
                                  "  - name: slow\n"
                                  "    workers: " + std::to_string(workers) + "\n"
                                  "    ops: [{op: sleep, ms: " + std::to_string(sleep_ms) + "}]\n"
                                  "sink: {type: images, path: out/%03d.png}\n");
  }

  // Waits (bounded) until the daemon has exactly `n` workers; returns how many it has.
  std::size_t wait_for_worker_count(RunningProgram& daemon, std::size_t n) {
    std::size_t count = 0;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline && !daemon.has_exited()) {
      count = worker_pids_of(daemon.pid()).size();
      if (count == n) break;
      std::this_thread::sleep_for(10ms);
    }
    return count;
  }
};

TEST_F(Reload, WorkerCountsChangeWhileCaptureGoesOnAndNoFrameIsLost) {
  const std::string file = config(1);
  RunningProgram daemon = start_cvpipe({"run", file});
  ASSERT_EQ(wait_for_worker_count(daemon, 1), 1u);
  std::this_thread::sleep_for(300ms);

  config(3);
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  EXPECT_EQ(wait_for_worker_count(daemon, 3), 3u) << "two workers should have been added";
  std::this_thread::sleep_for(300ms);

  config(1, 11);  // also a change that cannot apply live
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  EXPECT_EQ(wait_for_worker_count(daemon, 1), 1u) << "two workers should have been retired";
  const RunResult r = finish_cvpipe(daemon, 60s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("workers slow 1 -> 3"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("workers slow 3 -> 1"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("stages.slow (other than workers) changed, which cannot change on a running daemon"),
            std::string::npos)
      << describe(r);
  EXPECT_NE(r.err.find("worker retired"), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_written"), kClipFrames);
  EXPECT_EQ(s.integer("frames_dropped"), 0);
  EXPECT_EQ(stage_in(s, "slow").integer("workers"), 1);
  EXPECT_EQ(stage_in(s, "slow").integer("restarts"), 0) << "retired workers are not crashes";
  EXPECT_EQ(list_dir(path("out")).size(), static_cast<std::size_t>(kClipFrames));
}

TEST_F(Reload, ABrokenConfigIsReportedAndTheRunGoesOnUnchanged) {
  const std::string file = config(2);
  RunningProgram daemon = start_cvpipe({"run", file});
  ASSERT_EQ(wait_for_worker_count(daemon, 2), 2u);
  // Three errors: workers out of range, ops and sink missing.
  write("pipeline.yaml", "source: {type: file, path: clip.mkv}\nstages:\n  - name: slow\n    workers: 0\n");
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  const RunResult r = finish_cvpipe(daemon, 60s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("stages[0].workers: expected an integer in [1, 64], got 0"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("config reload failed (3 errors): the running config stays"), std::string::npos)
      << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_written"), kClipFrames);
  EXPECT_EQ(stage_in(s, "slow").integer("workers"), 2);
}

// A --set wins over the file at a reload too, and the log says that the file's change waits.
TEST_F(Reload, AChangeTheFileMakesUnderASetIsNamedAndNotApplied) {
  const std::string file = config(1);
  RunningProgram daemon = start_cvpipe({"run", file, "--set", "stages.slow.workers=2"});
  ASSERT_EQ(wait_for_worker_count(daemon, 2), 2u);
  config(3);
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  const RunResult r = finish_cvpipe(daemon, 60s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("config reload: the file changed stages[0].workers (1 -> 3), but --set stages.slow.workers=2 "
                       "pins it: not applied"),
            std::string::npos)
      << describe(r);
  EXPECT_NE(r.err.find("config reload: no worker count changed"), std::string::npos) << describe(r);
  EXPECT_EQ(stage_in(summary_of(r), "slow").integer("workers"), 2);
}

// A live source (paced at 30 fps, as a camera) through reloads that add and retire workers: the
// frames keep flowing and none is dropped, as the docs say.
TEST_F(Reload, ResizingUnderALiveSourceDropsNothing) {
  const auto live = [&](int workers) {
    return write("live.yaml", "source: {type: synthetic, width: 320, height: 240, fps: 30, frames: 150, pace: realtime}\n"
                              "stages:\n  - name: blur\n    workers: " + std::to_string(workers) +
                              "\n    ops: [{op: gaussian_blur, ksize: 9}]\n"
                              "  - name: edges\n    ops: [{op: grayscale}, {op: canny}]\n"
                              "sink: {type: \"null\"}\n");
  };
  RunningProgram daemon = start_cvpipe({"run", live(2)});
  ASSERT_EQ(wait_for_worker_count(daemon, 3), 3u);
  for (int workers : {4, 1, 3}) {
    std::this_thread::sleep_for(800ms);
    live(workers);
    ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  }
  const RunResult r = finish_cvpipe(daemon, 60s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("workers blur 4 -> 1"), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), 150);
  EXPECT_EQ(s.integer("frames_dropped"), 0) << r.out;
  EXPECT_EQ(s.integer("frames_missed_by_source"), 0) << r.out;
}

}  // namespace
}  // namespace cvpipe
