// Workers hold stdin/out/err and the shared segment, nothing else: not even a descriptor the
// daemon itself inherited by accident from whoever started it.
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

class WorkerFds : public CvpipeTest {};

TEST_F(WorkerFds, WorkersHoldOnlyStdioAndTheSegment) {
  const std::string config = write("pipeline.yaml", R"(source:
  type: synthetic
  width: 160
  height: 120
  fps: 50
  frames: 100
  pace: realtime
stages:
  - name: blur
    workers: 2
    ops:
      - op: gaussian_blur
sink:
  type: "null"
)");
  int leaked[2];
  ASSERT_EQ(::pipe(leaked), 0);  // no O_CLOEXEC: the daemon inherits both ends
  RunningProgram daemon = start_cvpipe({"run", config});
  ::close(leaked[0]);
  ::close(leaked[1]);

  std::vector<pid_t> workers;
  const auto started = std::chrono::steady_clock::now();
  while (workers.size() < 2 && std::chrono::steady_clock::now() < started + 10s && !daemon.has_exited()) {
    std::this_thread::sleep_for(50ms);
    workers = worker_pids_of(daemon.pid());
  }
  ASSERT_EQ(workers.size(), 2u) << "the daemon's workers did not show up";
  // A worker opens a few files while it starts (its libraries, /proc/self/maps): poll until its
  // set is down to what it keeps, for a bounded time. A leaked descriptor never goes away.
  for (pid_t pid : workers) {
    std::vector<std::string> others;
    int memfds = 0;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    do {
      others.clear();
      memfds = 0;
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        const int fd = std::stoi(entry.path().filename().string());
        const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
        if (fd <= 2) continue;
        // The segment: its frames and its sealed layout.
        if (target.rfind("/memfd:cvpipe-frames", 0) == 0 || target.rfind("/memfd:cvpipe-layout", 0) == 0) ++memfds;
        else others.push_back(std::to_string(fd) + " -> " + target);
      }
      if (memfds == 2 && others.empty()) break;
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(memfds, 2) << "worker " << pid;
    EXPECT_TRUE(others.empty()) << "worker " << pid << " holds " << others.front();
  }
  const RunResult r = finish_cvpipe(daemon);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

}  // namespace
}  // namespace cvpipe
