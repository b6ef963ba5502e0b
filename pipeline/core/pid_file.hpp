#pragma once
// A pid file (`cvpipe run --pid-file FILE`): how a supervisor or a person addresses one daemon
// among several (`kill -HUP "$(cat FILE)"`) without signalling every cvpipe on the host.
//
// Written whole (a temporary file renamed over it) with this process's pid and a newline; removed
// when the PidFile is destroyed, if it still names this process. A file that names a process that
// is still running is not taken over: two daemons with one pid file is a mistake worth an error.
// A file left by a daemon that was killed (its process gone) is replaced.
#include <string>
#include <sys/types.h>

namespace cvpipe {

class PidFile {
 public:
  // Writes `path`. Throws OutputError when it cannot, or when a running process holds it.
  explicit PidFile(std::string path);
  ~PidFile();
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  pid_t pid_;
};

// The pid a pid file holds, or 0 when it holds none (missing, empty, not a number).
pid_t read_pid_file(const std::string& path);

}  // namespace cvpipe
