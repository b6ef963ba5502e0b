// Stopping the daemon: SIGINT drains and finalizes a video that plays, a second signal cuts the
// drain short and the video still plays, SIGKILL leaves no worker and no shared memory behind.
#include <signal.h>

#include <fstream>
#include <string>
#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

class Lifecycle : public CvpipeTest {
 protected:
  // A synthetic source paced at 100 fps into an MJPG video, through one stage whose op chain is `ops`.
  std::string video_config(const std::string& ops, const std::string& extra = "") {
    return write("video.yaml", "source: {type: synthetic, width: 160, height: 120, fps: 100, frames: 3000, "
                               "pace: realtime}\n"
                               "stages:\n  - name: work\n    workers: 2\n    queue: 64\n    ops: " + ops + "\n"
                               "sink: {type: video, path: out/run.avi, fourcc: MJPG}\n" + extra);
  }

  // The video holds exactly the frames the summary says were written, and FFmpeg reads it whole.
  void expect_playable(const Json& summary) {
    const std::optional<long> frames = ffprobe_frame_count(path("out/run.avi"));
    ASSERT_TRUE(frames.has_value()) << "ffprobe cannot read the video";
    EXPECT_EQ(*frames, summary.integer("frames_written"));
    EXPECT_GT(*frames, 0);
  }
};

TEST_F(Lifecycle, SigintDrainsAndFinalizesAPlayableVideo) {
  RunningProgram daemon = start_cvpipe({"run", video_config("[{op: gaussian_blur, ksize: 5}]")});
  ASSERT_EQ(wait_for_workers(daemon, 2).size(), 2u);
  std::this_thread::sleep_for(700ms);
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(daemon, 30s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_LT(s.integer("frames_read"), 3000) << "reading stopped at the signal";
  EXPECT_EQ(s.integer("frames_dropped"), 0) << "every frame in flight is finished\n" << describe(r);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written"));
  expect_playable(s);
}

TEST_F(Lifecycle, ASecondSignalCutsTheDrainShortAndTheVideoStillPlays) {
  // 200 ms a frame on two workers against 100 fps in: the queue fills, and draining it would take
  // seconds; the grace (60 s) does not end it, the second signal does.
  RunningProgram daemon =
      start_cvpipe({"run", video_config("[{op: sleep, ms: 200}]", "limits: {shutdown_grace: 60}\n")});
  ASSERT_EQ(wait_for_workers(daemon, 2).size(), 2u);
  std::this_thread::sleep_for(1s);
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  std::this_thread::sleep_for(300ms);
  const auto second = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(daemon.pid(), SIGTERM), 0);
  const RunResult r = finish_cvpipe(daemon, 30s);

  EXPECT_LT(std::chrono::steady_clock::now() - second, 5s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_GE(s["dropped"].integer("aborted"), 1) << describe(r);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
  expect_playable(s);
}

// Whether `pid` has a process-directed signal `sig` pending (ShdPnd in /proc/PID/status).
bool signal_pending(pid_t pid, int sig) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("ShdPnd:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> (sig - 1)) & 1;
  return false;
}

// GNU timeout signals the daemon, then its whole process group: the daemon gets SIGINT twice from
// one sender within microseconds. That is one request: the frames in flight are finished.
TEST_F(Lifecycle, TheSameSignalFromTheSameSenderAtOnceIsOneRequest) {
  RunningProgram daemon = start_cvpipe({"run", video_config("[{op: sleep, ms: 200}]", "limits: {shutdown_grace: 60}\n")});
  ASSERT_EQ(wait_for_workers(daemon, 2).size(), 2u);
  std::this_thread::sleep_for(1s);
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  // Taken by the daemon, so that the second one is delivered on its own, not merged with it.
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (signal_pending(daemon.pid(), SIGINT) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100us);
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(daemon, 60s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  // (A paced source drops what its full queue cannot take, as queue_full, signal or not.)
  EXPECT_EQ(s["dropped"].integer("aborted"), 0) << "the frames in flight were dropped\n" << describe(r);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
  EXPECT_EQ(r.err.find("received again"), std::string::npos) << describe(r);
  expect_playable(s);
}

TEST_F(Lifecycle, SigkillOfTheDaemonLeavesNoWorkerAndNoSharedMemory) {
  RunningProgram daemon = start_cvpipe({"run", video_config("[{op: gaussian_blur, ksize: 5}]")});
  const std::vector<pid_t> workers = wait_for_workers(daemon, 2);
  ASSERT_EQ(workers.size(), 2u);
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(::kill(daemon.pid(), SIGKILL), 0);
  // The workers die of PR_SET_PDEATHSIG as soon as the kernel has reparented them.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!worker_pids_of(daemon.pid()).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(worker_pids_of(daemon.pid()).empty()) << "workers outlived their daemon by 5 s";
  const RunResult r = finish_cvpipe(daemon, 10s);  // also: nothing new in /dev/shm

  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
}

}  // namespace
}  // namespace cvpipe
