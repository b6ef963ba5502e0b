// Soak: a paced synthetic source for a long run while workers are killed at random; the daemon's
// memory (PSS of every process) and its open descriptors stay flat after warm-up, and every frame
// is accounted for. The suite runs a short version; `tools/dev soak` runs 100,000 frames
// (CVPIPE_SOAK_FRAMES overrides the count).
#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kFps = 1000;

// Proportional set size of a process in KiB (0 if it is gone).
long pss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Pss:", 0) == 0) return std::atol(line.c_str() + 4);  // "Pss:   1234 kB"
  return 0;
}

int open_fds(pid_t pid) {
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!dir) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n;
}

struct Sample {
  double seconds;
  long pss_kib;  // the daemon and its workers
  int fds;       // the daemon's
};

using Soak = CvpipeTest;

TEST_F(Soak, MemoryAndDescriptorsStayFlatWhileWorkersAreKilled) {
  const char* env = std::getenv("CVPIPE_SOAK_FRAMES");
  const long frames = env ? std::atol(env) : 5000;
  ASSERT_GT(frames, 999) << "CVPIPE_SOAK_FRAMES";
  const std::string config =
      write("soak.yaml", "source: {type: synthetic, width: 320, height: 240, fps: " + std::to_string(kFps) +
                             ", frames: " + std::to_string(frames) + ", pace: realtime}\n"
                             "stages:\n"
                             "  - name: blur\n    workers: 2\n    ops: [{op: gaussian_blur, ksize: 5}]\n"
                             "  - name: edges\n    ops: [{op: grayscale}, {op: canny}]\n"
                             "sink: {type: \"null\"}\n"
                             "limits: {crash_limit: 1000, crash_window: 1}  # killed on purpose: never a crash loop\n"
                             "log: {stats_interval: 0}\n");
  RunningProgram daemon = start_cvpipe({"run", config});
  const auto started = std::chrono::steady_clock::now();
  const auto limit = started + std::chrono::milliseconds(frames * 1000 / kFps * 3 + 30'000);
  std::mt19937 random(static_cast<unsigned>(::getpid()));
  std::vector<Sample> samples;
  int kills = 0;
  auto next_kill = started + 500ms;
  while (!daemon.has_exited() && std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(100ms);
    const std::vector<pid_t> workers = worker_pids_of(daemon.pid());
    if (std::chrono::steady_clock::now() >= next_kill && !workers.empty()) {
      const int signals[] = {SIGKILL, SIGSEGV, SIGABRT};
      ::kill(workers[random() % workers.size()], signals[random() % 3]);
      ++kills;
      next_kill = std::chrono::steady_clock::now() + std::chrono::milliseconds(200 + random() % 600);
    }
    long pss = pss_kib(daemon.pid());
    for (pid_t w : workers) pss += pss_kib(w);
    const int fds = open_fds(daemon.pid());
    if (pss > 0 && fds > 0)
      samples.push_back({std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), pss, fds});
  }
  const RunResult r = finish_cvpipe(daemon, 30s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read") + s.integer("frames_missed_by_source"), frames);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
  EXPECT_EQ(s["dropped"].integer("error"), 0);
  EXPECT_EQ(s["dropped"].integer("aborted"), 0);
  EXPECT_GE(kills, 3);
  EXPECT_GE(stage_in(s, "blur").integer("restarts") + stage_in(s, "edges").integer("restarts"), 1);

  // After warm-up (the first third), memory must not grow: a leak grows with every frame, so the
  // last sixth of the samples (their median) may not be above the middle third's by more than
  // noise (allocator caches). A single sample may be higher, within limits: a worker killed while
  // its replacement loads counts twice for a moment (and one dumping core, for longer).
  ASSERT_GE(samples.size(), 12u);
  const std::size_t warm = samples.size() / 3;
  const auto median_pss = [&](std::size_t from, std::size_t to) {
    std::vector<long> v;
    for (std::size_t i = from; i < to; ++i) v.push_back(samples[i].pss_kib);
    std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  const long pss_middle = median_pss(warm, 2 * warm), pss_end = median_pss(samples.size() - samples.size() / 6,
                                                                            samples.size());
  long pss_max = 0;
  int fds_min = 1 << 30, fds_max = 0;
  for (std::size_t i = warm; i < samples.size(); ++i) {
    pss_max = std::max(pss_max, samples[i].pss_kib);
    fds_min = std::min(fds_min, samples[i].fds);
    fds_max = std::max(fds_max, samples[i].fds);
  }
  std::string trace;
  for (const auto& x : samples)
    trace += std::to_string(x.seconds).substr(0, 5) + "s " + std::to_string(x.pss_kib / 1024) + "MiB " +
             std::to_string(x.fds) + "fds\n";
  EXPECT_LE(pss_end, pss_middle + pss_middle / 10 + 4 * 1024) << "memory grew from the middle of the run to its end\n"
                                                              << trace;
  EXPECT_LE(pss_max, pss_middle + pss_middle / 2 + 16 * 1024) << trace;
  EXPECT_LE(fds_max - fds_min, 2) << "descriptors come and go with restarts, they may not pile up\n" << trace;
  RecordProperty("kills", kills);
  RecordProperty("pss_mib_middle", static_cast<int>(pss_middle / 1024));
  RecordProperty("pss_mib_end", static_cast<int>(pss_end / 1024));
  RecordProperty("pss_mib_max", static_cast<int>(pss_max / 1024));
}

}  // namespace
}  // namespace cvpipe
