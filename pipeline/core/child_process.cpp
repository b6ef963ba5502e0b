#include "pipeline/core/child_process.hpp"

#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace cvpipe {
namespace {

ChildProcess::ExitStatus decode(int status) {
  if (WIFSIGNALED(status)) return {true, WTERMSIG(status)};
  return {false, WEXITSTATUS(status)};
}

// posix_spawn's attribute and file-action objects, released on every path.
class SpawnSetup {
 public:
  explicit SpawnSetup(const std::string& exe) {
    if (const int rc = ::posix_spawnattr_init(&attr_); rc != 0) fail(rc, exe);
    if (const int rc = ::posix_spawn_file_actions_init(&actions_); rc != 0) {
      ::posix_spawnattr_destroy(&attr_);
      fail(rc, exe);
    }
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions_);
    ::posix_spawnattr_destroy(&attr_);
  }
  [[noreturn]] static void fail(int err, const std::string& exe) {
    throw std::system_error(err, std::generic_category(), "posix_spawn " + exe);
  }

  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

}  // namespace

std::string ChildProcess::ExitStatus::describe() const {
  if (!signaled) return "exit code " + std::to_string(code);
  std::string s = "killed by signal " + std::to_string(code);
  if (const char* abbrev = ::sigabbrev_np(code)) s += std::string(" (SIG") + abbrev + ")";
  return s;
}

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv, const std::vector<int>& inherit_fds,
                                 const std::vector<std::string>* environment) {
  if (argv.empty()) throw std::invalid_argument("child process: empty argv");
  const std::string& exe = argv[0];
  SpawnSetup setup(exe);

  sigset_t none;
  sigset_t all;
  ::sigemptyset(&none);
  ::sigfillset(&all);
  int rc = ::posix_spawnattr_setsigmask(&setup.attr_, &none);
  if (rc == 0) rc = ::posix_spawnattr_setsigdefault(&setup.attr_, &all);
  if (rc == 0) {
    rc = ::posix_spawnattr_setflags(&setup.attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  // dup2(fd, fd) in the child clears FD_CLOEXEC (POSIX 2008 TC2; glibc since 2.29), so exactly
  // these fds survive the exec.
  for (const int fd : inherit_fds) {
    if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&setup.actions_, fd, fd);
  }
  // And every other fd above stdio is closed, even one a library opened without O_CLOEXEC (e.g.
  // cpp-httplib's accepted connections): a restarted worker must not hold a viewer's socket.
  // glibc ignores closing an fd that is not open.
  const int highest = inherit_fds.empty() ? 2 : std::max(2, *std::max_element(inherit_fds.begin(), inherit_fds.end()));
  for (int fd = 3; fd < highest && rc == 0; ++fd)
    if (std::find(inherit_fds.begin(), inherit_fds.end(), fd) == inherit_fds.end())
      rc = ::posix_spawn_file_actions_addclose(&setup.actions_, fd);
  if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(&setup.actions_, highest + 1);
  if (rc != 0) SpawnSetup::fail(rc, exe);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  std::vector<char*> env;
  if (environment) {
    env.reserve(environment->size() + 1);
    for (const std::string& e : *environment) env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);
  }

  pid_t pid = -1;
  // glibc reports a failed exec (ENOENT, EACCES, ...) here rather than as exit code 127.
  rc = ::posix_spawn(&pid, exe.c_str(), &setup.actions_, &setup.attr_, args.data(),
                     environment ? env.data() : environ);
  if (rc != 0) SpawnSetup::fail(rc, exe);
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

ChildProcess::~ChildProcess() { kill_and_reap(); }

std::optional<ChildProcess::ExitStatus> ChildProcess::try_wait() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    throw std::system_error(errno, std::generic_category(), "waitpid child " + std::to_string(pid_));
  }
  if (r == pid_) status_ = decode(status);
  return status_;
}

ChildProcess::ExitStatus ChildProcess::wait() {
  if (status_) return *status_;
  if (pid_ <= 0) throw std::logic_error("child process: wait() without a child");
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    throw std::system_error(errno, std::generic_category(), "waitpid child " + std::to_string(pid_));
  }
  status_ = decode(status);
  return *status_;
}

void ChildProcess::signal(int sig) noexcept {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

ChildProcess::ExitStatus ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (status_) return *status_;
  signal(SIGTERM);
  // Polls with a growing sleep: a child usually ends within a millisecond or two of SIGTERM, and
  // a pidfd would buy little for a call made once per child at shutdown.
  const auto deadline = std::chrono::steady_clock::now() + grace;
  auto nap = std::chrono::microseconds(100);
  while (!try_wait()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      signal(SIGKILL);
      return wait();
    }
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(nap, deadline - now));
    nap = std::min<std::chrono::microseconds>(nap * 2, std::chrono::milliseconds(10));
  }
  return *status_;
}

void ChildProcess::kill_and_reap() noexcept {
  if (pid_ <= 0 || status_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = decode(status);
}

}  // namespace cvpipe
