// Workers run below the daemon (stages[].nice) from the end of their first frame whose ops took
// 1 ms or more: every thread of every worker, OpenCV's included, at the daemon's niceness plus its
// stage's `nice`; restarted workers too. A worker whose frames are shorter stays at the daemon's.
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

class WorkerPriority : public CvpipeTest {};

// Field 19 of /proc/PID/task/TID/stat (after the command name in parentheses): the niceness.
int nice_of(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) return -100;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 19 && fields >> field; ++i) {
    if (i == 19) return std::stoi(field);
  }
  return -100;
}

// The niceness of each thread of `pid`.
std::vector<int> thread_nices(pid_t pid) {
  std::vector<int> nices;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const std::string& tid : list_dir(dir)) nices.push_back(nice_of(dir + "/" + tid + "/stat"));
  return nices;
}

// The stage index a worker was started for (its --stage argument).
int stage_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  for (std::string arg; std::getline(in, arg, '\0');) args.push_back(arg);
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--stage") return std::stoi(args[i + 1]);
  return -1;
}

TEST_F(WorkerPriority, EveryWorkerThreadRunsAtItsStagesNiceAboveTheDaemon) {
  // Stage 0 takes the default (10), stage 1 asks for 0, stage 2 for 19; each runs a bilateral filter (3-20 ms a
  // frame here). Stage 3 takes the default, but its frames take microseconds: it is never lowered. Stage 0 runs
  // OpenCV (bilateral: a parallel_for) on 2 threads, so its workers have threads of OpenCV's pool too.
  const std::string config = write("nice.yaml", R"(source: {type: synthetic, width: 640, height: 480, fps: 200, frames: 20000, pace: realtime}
stages:
  - name: blur
    workers: 2
    threads: 2
    ops: [{op: bilateral, d: 9, sigma_color: 75, sigma_space: 75}]
  - name: gray
    nice: 0
    ops: [{op: grayscale}, {op: bilateral, d: 9, sigma_color: 75, sigma_space: 75}]
  - name: edges
    nice: 19
    ops: [{op: bilateral, d: 9, sigma_color: 75, sigma_space: 75}, {op: canny, low: 50, high: 150}]
  - name: pass
    ops: [{op: identity}]
sink: {type: "null"}
)");
  RunningProgram daemon = start_cvpipe({"run", config});
  std::vector<pid_t> workers = wait_for_workers(daemon, 5);
  ASSERT_EQ(workers.size(), 5u);
  std::sort(workers.begin(), workers.end());
  // Frames through OpenCV's parallel bilateral filter start its pool in stage 0's workers (at
  // 200 fps both are kept busy).
  const auto pool_started = [&] {
    for (pid_t pid : workers)
      if (stage_of(pid) == 0 && thread_nices(pid).size() < 2) return false;
    return true;
  };
  for (const auto until = std::chrono::steady_clock::now() + 10s; !pool_started() && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(20ms);
  const int daemon_nice = nice_of("/proc/" + std::to_string(daemon.pid()) + "/stat");
  const std::map<int, int> wanted = {
      {0, std::min(19, daemon_nice + 10)}, {1, daemon_nice}, {2, 19}, {3, daemon_nice}};
  // A worker lowers itself once its first long frame is done (the first frame out need not wait
  // for the capture's start-up burst): every thread of each, at its stage's niceness, within 5 s.
  // Stage 3's worker has done hundreds of frames by then, and is checked at the daemon's.
  const auto settled = [&](const std::vector<pid_t>& pids) {
    for (pid_t pid : pids) {
      const std::vector<int> nices = thread_nices(pid);
      const int stage = stage_of(pid);
      if (nices.empty() || !wanted.count(stage)) return false;
      for (int n : nices)
        if (n != wanted.at(stage)) return false;
    }
    return true;
  };
  for (const auto until = std::chrono::steady_clock::now() + 5s; !settled(workers) && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(20ms);

  const auto check = [&](const std::vector<pid_t>& pids) {
    std::map<int, int> per_stage;
    for (pid_t pid : pids) {
      const int stage = stage_of(pid);
      ASSERT_TRUE(wanted.count(stage)) << "worker " << pid << " has no known --stage";
      ++per_stage[stage];
      const std::vector<int> nices = thread_nices(pid);
      ASSERT_FALSE(nices.empty());
      if (stage == 0) {
        EXPECT_GE(nices.size(), 2u) << "a worker with threads: 2 runs OpenCV's pool";
      }
      for (int n : nices) EXPECT_EQ(n, wanted.at(stage)) << "a thread of worker " << pid << " of stage " << stage;
    }
    EXPECT_EQ(per_stage, (std::map<int, int>{{0, 2}, {1, 1}, {2, 1}, {3, 1}}));
  };
  check(workers);

  // A restarted worker is lowered again (the daemon spawns it at its own niceness).
  for (pid_t pid : workers) {
    if (stage_of(pid) == 2) {
      ASSERT_EQ(::kill(pid, SIGKILL), 0);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  const auto sorted_workers = [&] {
    std::vector<pid_t> pids = worker_pids_of(daemon.pid());
    std::sort(pids.begin(), pids.end());
    return pids;
  };
  std::vector<pid_t> now = sorted_workers();
  while (std::chrono::steady_clock::now() < deadline && (now.size() != 5 || now == workers)) {
    std::this_thread::sleep_for(20ms);
    now = sorted_workers();
  }
  ASSERT_EQ(now.size(), 5u);
  ASSERT_NE(now, workers) << "the killed worker was not replaced within 10 s";
  // The new worker lowers itself after its first frame too.
  for (const auto until = std::chrono::steady_clock::now() + 5s; !settled(now) && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(20ms);
  check(now);

  ::kill(daemon.pid(), SIGINT);
  const RunResult r = finish_cvpipe(daemon, 30s);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_GE(stage_in(summary_of(r), "edges").integer("restarts"), 1) << describe(r);
}

}  // namespace
}  // namespace cvpipe
