#include "pipeline/core/pid_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "pipeline/core/errors.hpp"
#include "pipeline/core/small_file.hpp"
#include "pipeline/core/unique_fd.hpp"

namespace cvpipe {

pid_t read_pid_file(const std::string& path) {
  std::string text;
  if (!read_small_file(path, 64, text).empty()) return 0;
  long pid = 0;
  for (char c : text) {
    if (c == '\n') break;
    if (c < '0' || c > '9' || pid > 99'999'999) return 0;
    pid = pid * 10 + (c - '0');
  }
  return static_cast<pid_t>(pid);
}

PidFile::PidFile(std::string path) : path_(std::move(path)), pid_(::getpid()) {
  // kill(pid, 0) fails with ESRCH when no such process exists (EPERM: it exists, another user's).
  if (const pid_t holder = read_pid_file(path_); holder > 0 && holder != pid_ && (::kill(holder, 0) == 0 || errno == EPERM))
    throw OutputError("--pid-file " + path_ + ": held by process " + std::to_string(holder) +
                      ", which is running (another cvpipe?)");
  const std::string temporary = path_ + ".tmp." + std::to_string(pid_);
  const std::string text = std::to_string(pid_) + "\n";
  {
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      const std::string why = std::strerror(errno);
      ::unlink(temporary.c_str());
      throw OutputError("--pid-file " + path_ + ": cannot write it: " + why);
    }
  }
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw OutputError("--pid-file " + path_ + ": cannot write it: " + why);
  }
}

PidFile::~PidFile() {
  if (read_pid_file(path_) == pid_) ::unlink(path_.c_str());
}

}  // namespace cvpipe
