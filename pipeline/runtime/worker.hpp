#pragma once
// The worker process: `cvpipe --worker ...` (a hidden mode of the daemon's own binary, started by
// posix_spawn of /proc/self/exe). It maps the shared segment from an inherited fd, builds its
// stage's op chain from the config text in the segment, and then runs slots from its `in` ring
// through the chain and hands them back on its `out` ring until told to stop.
#include <string>
#include <vector>

namespace cvpipe {

struct WorkerArgs {
  int fd = -1;            // the segment's frames memfd
  int layout_fd = -1;     // its sealed layout memfd
  int stage = -1;         // index in config.stages
  int control = -1;       // index of its WorkerControl in the segment
  int parent = -1;        // the daemon's pid; the worker exits if it is gone
  int threads = 1;        // cv::setNumThreads
  int nice = 0;           // added to the niceness it inherits, for all its threads, after its first frame
  int width = 0, height = 0, type = -1;  // the stage's input format
  int max_latency_us = 0;  // a frame older than this (since capture) is dropped unprocessed; 0: off
  std::string log_level = "info";
  std::string name;       // logger name, e.g. worker.smooth.1
  std::string base_dir;   // relative paths in ops' parameters are relative to it (the config's folder)
};

// argv for spawning a worker (argv[0] is /proc/self/exe).
std::vector<std::string> worker_argv(const WorkerArgs& a);
// Parses the arguments after "--worker"; false if malformed.
bool parse_worker_args(int argc, char** argv, WorkerArgs& out);

// Exit codes of a worker process.
inline constexpr int kWorkerExitOk = 0;
inline constexpr int kWorkerExitSetup = 3;     // bad arguments, segment or config
inline constexpr int kWorkerExitOpenFailed = 4;  // an op's open() failed
inline constexpr int kWorkerExitOrphaned = 5;  // the daemon went away

int worker_main(const WorkerArgs& args);

}  // namespace cvpipe
