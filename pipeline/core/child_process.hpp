#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace cvpipe {

// ChildProcess starts a program with posix_spawn (fork and exec in one step, safe in a process
// that runs threads; never a bare fork) and owns the child until it is reaped.
//
// The child starts with an empty signal mask and every signal at its default action, whatever the
// spawning thread had blocked or handled (ignored signals would otherwise stay ignored across exec).
// Only stdio and the fds named in inherit_fds survive into it, at the same numbers; every other
// fd is closed, O_CLOEXEC or not (a library's socket opened without it included).
//
// Owns the pid: while the child is unreaped its pid cannot be reused, so signal() never hits a
// stranger. The destructor of a still-running child SIGKILLs and reaps it, so nothing is left
// behind as a zombie or a stray. Installs no signal handlers; whoever handles SIGCHLD must not reap
// with waitpid(-1) or this class loses the status (try_wait() then throws ECHILD).
//
// Move-only. Not thread-safe: one owner, one thread at a time. spawn() allocates and may throw;
// wait() and terminate() block; try_wait() and signal() do not.
class ChildProcess {
 public:
  struct ExitStatus {
    bool signaled = false;
    int code = 0;  // the exit code, or the signal number if signaled
    // "exit code 3" or "killed by signal 11 (SIGSEGV)".
    std::string describe() const;
    bool operator==(const ExitStatus&) const = default;
  };

  // argv[0] is the path of the executable (not searched in PATH), e.g. "/proc/self/exe"; the
  // environment is `environment` ("NAME=value" strings) if given, else this process's. Throws
  // std::system_error naming argv[0] if it cannot be started (a missing executable included),
  // std::invalid_argument if argv is empty.
  static ChildProcess spawn(const std::vector<std::string>& argv, const std::vector<int>& inherit_fds = {},
                            const std::vector<std::string>* environment = nullptr);

  ChildProcess() noexcept = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // The child's pid, still valid after it was reaped; -1 for a default-constructed or moved-from
  // object.
  pid_t pid() const noexcept { return pid_; }

  // The exit status if the child has ended (reaping it), else nothing. Never blocks; once reaped,
  // returns the cached status. Throws std::system_error if waitpid fails.
  std::optional<ExitStatus> try_wait();
  // Blocks until the child ends; returns its status (cached once reaped).
  ExitStatus wait();
  // Sends `sig` to the child; does nothing once it has been reaped.
  void signal(int sig) noexcept;
  // SIGTERM, then up to `grace` for the child to end, then SIGKILL. Blocks until reaped; returns
  // the status (signaled with SIGKILL if the grace ran out).
  ExitStatus terminate(std::chrono::milliseconds grace);

 private:
  explicit ChildProcess(pid_t pid) noexcept : pid_(pid) {}
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

}  // namespace cvpipe
