// A worker is code the daemon does not trust. One that scribbles where it must not (the test-only
// scribble op) is treated as a crashed worker: killed, its frame dropped with a reason, restarted,
// while the daemon goes on and its accounting adds up. And every worker runs with least privilege:
// no inherited secrets in its environment, no_new_privs, a seccomp filter.
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/cli_test_util.hpp"
#include "tests/support/sanitized.hpp"

namespace cvpipe {
namespace {

class ScribblingWorker : public CvpipeTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(ScribblingWorker, IsKilledAndRestartedAndTheRunGoesOn) {
  const std::string config = write("pipeline.yaml", "source: {type: synthetic, width: 64, height: 48, frames: 30}\n"
                                                    "stages: [{name: a, workers: 2, ops: [{op: scribble, seq: 7, target: " +
                                                        GetParam() + "}]}]\nsink: {type: \"null\"}\n");
  const RunResult r = run_cvpipe({"run", config}, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), 30);
  EXPECT_EQ(s.integer("frames_written") + s.integer("frames_dropped"), 30) << "every frame accounted for";
  EXPECT_EQ(s["dropped"].integer("worker_crash"), 1) << describe(r);
  EXPECT_EQ(stage_in(s, "a").integer("restarts"), 1) << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Targets, ScribblingWorker,
                         ::testing::Values("overrun", "layout", "other_worker", "own_ring", "slot_header"),
                         [](const auto& case_info) { return case_info.param; });


using WorkerPrivilege = CvpipeTest;

TEST_F(WorkerPrivilege, AWorkerInheritsNoSecretAndCannotGainRightsOrRunPrograms) {
  ::setenv("CVPIPE_TEST_CAMERA_URL", "rtsp://admin:s3cr3t-env@127.0.0.1/x", 1);
  ::setenv("SPDLOG_LEVEL", "info", 1);
  const std::string config = write("pipeline.yaml", "source: {type: synthetic, width: 64, height: 48, frames: 40, fps: 20, "
                                                    "pace: realtime}\n"
                                                    "stages: [{name: a, workers: 1, ops: [{op: identity}]}]\n"
                                                    "sink: {type: \"null\"}\n");
  RunningProgram daemon = start_cvpipe({"run", config});
  const std::vector<pid_t> workers = wait_for_workers(daemon, 1);
  ASSERT_EQ(workers.size(), 1u);
  // A worker restricts itself as it starts: wait (bounded) until it has.
  std::string status;
  for (int i = 0; i < 100; ++i) {
    status = read_file("/proc/" + std::to_string(workers[0]) + "/status");
    if (status.find("NoNewPrivs:\t1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string environ = read_file("/proc/" + std::to_string(workers[0]) + "/environ");
  const std::string daemon_environ = read_file("/proc/" + std::to_string(daemon.pid()) + "/environ");
  const RunResult r = finish_cvpipe(daemon, std::chrono::seconds(30));
  ::unsetenv("CVPIPE_TEST_CAMERA_URL");
  ::unsetenv("SPDLOG_LEVEL");
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  EXPECT_NE(daemon_environ.find("CVPIPE_TEST_CAMERA_URL="), std::string::npos) << "the daemon had it";
  EXPECT_EQ(environ.find("CVPIPE_TEST_CAMERA_URL"), std::string::npos) << "a worker must not inherit it";
  EXPECT_EQ(environ.find("s3cr3t"), std::string::npos);
  EXPECT_NE(environ.find("SPDLOG_LEVEL=info"), std::string::npos) << "what configures its libraries stays";
  EXPECT_NE(status.find("NoNewPrivs:\t1"), std::string::npos) << status;
  if (!kSanitizedBuild) {
    EXPECT_NE(status.find("Seccomp:\t2"), std::string::npos) << status;  // a filter
  }
}

}  // namespace
}  // namespace cvpipe
