#pragma once
// A live stream on 127.0.0.1 for the url source's tests: Debian's ffmpeg serving a test pattern
// as MJPEG over HTTP, which can be killed mid-frame as a camera that loses power.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe::test {

inline constexpr const char* kFfmpeg = "/usr/bin/ffmpeg";

// Whether something listens on 127.0.0.1:port, from /proc/net/tcp (connecting to find out would
// take the server's one client).
inline bool listening(int port) {
  std::ifstream tcp("/proc/net/tcp");
  char local[32];
  std::snprintf(local, sizeof local, "0100007F:%04X", port);
  std::string line;
  std::getline(tcp, line);  // header
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local_address, remote_address, state;
    fields >> slot >> local_address >> remote_address >> state;
    if (local_address == local && state == "0A") return true;  // TCP_LISTEN
  }
  return false;
}

// Polls `condition` every 20 ms until it holds (true) or `timeout` passes (false).
inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// What a running process has written to its stderr so far (the test harness points it at a
// memory file, which /proc lets us open again).
inline std::string stderr_of(pid_t pid) { return read_file("/proc/" + std::to_string(pid) + "/fd/2"); }

// ffmpeg serving a 320x240 test pattern as MJPEG over HTTP to one client, on 127.0.0.1, at `fps`
// frames a second of the wall clock. MJPEG over HTTP carries no rate: readers assume 25.
class StreamServer {
 public:
  explicit StreamServer(int port, int fps = 25)
      : program_(RunningProgram::start({kFfmpeg, "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                                        "testsrc2=size=320x240:rate=" + std::to_string(fps), "-f", "mpjpeg",
                                        "-listen", "1",
                                        "http://127.0.0.1:" + std::to_string(port) + "/"})) {
    ready_ = wait_until([port] { return listening(port); }, std::chrono::seconds(10));
  }
  bool ready() const { return ready_; }
  // SIGKILL: the stream stops mid-frame, as when a camera loses power.
  void kill() {
    ::kill(program_.pid(), SIGKILL);
    (void)program_.finish(std::chrono::seconds(5));
  }

 private:
  RunningProgram program_;
  bool ready_ = false;
};

}  // namespace cvpipe::test
