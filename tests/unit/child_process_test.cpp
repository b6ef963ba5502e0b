#include "pipeline/core/child_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "pipeline/core/unique_fd.hpp"
#include "tests/support/test_child.hpp"

namespace cvpipe {
namespace {

using Clock = std::chrono::steady_clock;
using Status = ChildProcess::ExitStatus;
using namespace std::chrono_literals;

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Moves `fd` to a high, unlikely-to-be-reused number (keeping O_CLOEXEC), so that a test that
// checks the number is closed in a child cannot be fooled by the child opening something else.
UniqueFd to_high_fd(UniqueFd fd) {
  const int high = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 500);
  if (high < 0) throw std::system_error(errno, std::generic_category(), "F_DUPFD_CLOEXEC");
  return UniqueFd(high);
}

// Reads up to `n` bytes, waiting at most `timeout` for the first; "" on timeout or EOF.
std::string read_some(int fd, std::size_t n, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
  std::string buf(n, '\0');
  const ssize_t got = ::read(fd, buf.data(), n);
  buf.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  return buf;
}

// argv: <code>.
CVPIPE_TEST_CHILD(exit_with) { return argc == 1 ? std::stoi(argv[0]) : 2; }

// argv: <signal>.
CVPIPE_TEST_CHILD(kill_self_with) {
  if (argc != 1) return 2;
  ::raise(std::stoi(argv[0]));
  return 3;
}

// Sleeps for at most 30 s (a stray would not live long).
CVPIPE_TEST_CHILD(sleep_30s) {
  std::this_thread::sleep_for(30s);
  return 0;
}

// argv: <fd>. Ignores SIGTERM, says so by writing a byte to fd, then sleeps for at most 30 s.
CVPIPE_TEST_CHILD(ignore_term_and_sleep) {
  if (argc != 1) return 2;
  ::signal(SIGTERM, SIG_IGN);
  if (::write(std::stoi(argv[0]), "r", 1) != 1) return 3;
  std::this_thread::sleep_for(30s);
  return 0;
}

// argv: <fd>. Exits 0 once fd reads EOF or a byte, 3 after 30 s.
CVPIPE_TEST_CHILD(wait_for_release) {
  if (argc != 1) return 2;
  pollfd p{std::stoi(argv[0]), POLLIN, 0};
  return ::poll(&p, 1, 30'000) == 1 ? 0 : 3;
}

// argv: <fd>. Exit 0 if fd is open without FD_CLOEXEC and a write to it works.
CVPIPE_TEST_CHILD(write_to_inherited_fd) {
  if (argc != 1) return 2;
  const int fd = std::stoi(argv[0]);
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0) return 3;
  if (flags & FD_CLOEXEC) return 4;
  return ::write(fd, "hi", 2) == 2 ? 0 : 5;
}

// argv: <fd>. Exit 0 if fd is not open.
CVPIPE_TEST_CHILD(expect_fd_closed) {
  if (argc != 1) return 2;
  return ::fcntl(std::stoi(argv[0]), F_GETFD) == -1 && errno == EBADF ? 0 : 3;
}

// argv: <signal>. Exit 0 if the signal is neither blocked nor ignored.
CVPIPE_TEST_CHILD(expect_signal_default) {
  if (argc != 1) return 2;
  const int sig = std::stoi(argv[0]);
  sigset_t blocked;
  ::sigprocmask(SIG_BLOCK, nullptr, &blocked);
  if (::sigismember(&blocked, sig)) return 3;
  struct sigaction sa {};
  ::sigaction(sig, nullptr, &sa);
  return sa.sa_handler == SIG_DFL ? 0 : 4;
}

ChildProcess spawn_child(const std::string& name, const std::vector<std::string>& args = {},
                         const std::vector<int>& inherit = {}) {
  return ChildProcess::spawn(test_child_argv(name, args), inherit);
}

TEST(ChildProcessExitStatus, DescribesAnExitCode) {
  EXPECT_EQ((Status{false, 0}).describe(), "exit code 0");
  EXPECT_EQ((Status{false, 3}).describe(), "exit code 3");
}

TEST(ChildProcessExitStatus, DescribesAKillingSignalByNumberAndName) {
  EXPECT_EQ((Status{true, SIGSEGV}).describe(), "killed by signal 11 (SIGSEGV)");
  EXPECT_EQ((Status{true, SIGKILL}).describe(), "killed by signal 9 (SIGKILL)");
}

TEST(ChildProcess, ReportsTheExitCode) {
  ChildProcess child = spawn_child("exit_with", {"3"});
  EXPECT_GT(child.pid(), 0);
  EXPECT_EQ(child.wait(), (Status{false, 3}));
}

TEST(ChildProcess, ReportsTheSignalThatKilledIt) {
  ChildProcess child = spawn_child("kill_self_with", {std::to_string(SIGUSR1)});
  const Status status = child.wait();
  EXPECT_EQ(status, (Status{true, SIGUSR1}));
  EXPECT_EQ(status.describe(), "killed by signal 10 (SIGUSR1)");
}

TEST(ChildProcess, TryWaitIsEmptyWhileRunningThenCachesTheStatus) {
  Pipe release = make_pipe();
  ChildProcess child =
      spawn_child("wait_for_release", {std::to_string(release.read.get())}, {release.read.get()});
  EXPECT_FALSE(child.try_wait().has_value());
  release.write.reset();  // EOF lets the child exit
  EXPECT_EQ(child.wait(), (Status{false, 0}));
  ASSERT_TRUE(child.try_wait().has_value());
  EXPECT_EQ(*child.try_wait(), (Status{false, 0}));
  EXPECT_EQ(child.wait(), (Status{false, 0}));
}

TEST(ChildProcess, SignalReachesARunningChild) {
  ChildProcess child = spawn_child("sleep_30s");
  child.signal(SIGTERM);
  const auto start = Clock::now();
  EXPECT_EQ(child.wait(), (Status{true, SIGTERM}));
  EXPECT_LT(Clock::now() - start, 10s);
  child.signal(SIGTERM);  // reaped: a no-op
}

TEST(ChildProcess, TerminateStopsAChildThatHonoursSigterm) {
  ChildProcess child = spawn_child("sleep_30s");
  const auto start = Clock::now();
  EXPECT_EQ(child.terminate(10s), (Status{true, SIGTERM}));
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(ChildProcess, TerminateEscalatesToSigkillWhenTheGraceRunsOut) {
  Pipe ready = make_pipe();
  ChildProcess child = spawn_child("ignore_term_and_sleep", {std::to_string(ready.write.get())},
                                   {ready.write.get()});
  ASSERT_EQ(read_some(ready.read.get(), 1, 10s), "r") << "the child never got ready";
  const auto start = Clock::now();
  const Status status = child.terminate(200ms);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(status, (Status{true, SIGKILL}));
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 5s);
}

TEST(ChildProcess, InheritedFdIsOpenInTheChildAtTheSameNumber) {
  Pipe pipe = make_pipe();
  UniqueFd write_end = to_high_fd(std::move(pipe.write));
  ChildProcess child = spawn_child("write_to_inherited_fd", {std::to_string(write_end.get())},
                                   {write_end.get()});
  const Status status = child.wait();
  EXPECT_EQ(status, (Status{false, 0}));
  write_end.reset();
  EXPECT_EQ(read_some(pipe.read.get(), 2, 1s), "hi");
}

TEST(ChildProcess, InheritingLeavesTheParentsFdCloseOnExec) {
  Pipe pipe = make_pipe();
  ChildProcess child = spawn_child("exit_with", {"0"}, {pipe.write.get()});
  EXPECT_EQ(child.wait(), (Status{false, 0}));
  const int flags = ::fcntl(pipe.write.get(), F_GETFD);
  ASSERT_NE(flags, -1);
  EXPECT_TRUE(flags & FD_CLOEXEC);
}

TEST(ChildProcess, FdNotInheritedIsClosedInTheChild) {
  Pipe pipe = make_pipe();
  UniqueFd write_end = to_high_fd(std::move(pipe.write));
  ChildProcess child = spawn_child("expect_fd_closed", {std::to_string(write_end.get())});
  const Status status = child.wait();
  EXPECT_EQ(status, (Status{false, 0}));
}

// A library may open an fd without O_CLOEXEC (cpp-httplib's accepted sockets): still closed in
// the child, whether its number is below or above the inherited one's.
TEST(ChildProcess, FdWithoutCloseOnExecIsClosedInTheChild) {
  const int low = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
  ASSERT_GE(low, 0);
  Pipe pipe = make_pipe();
  UniqueFd inherited = to_high_fd(std::move(pipe.write));
  const int high = ::fcntl(low, F_DUPFD, inherited.get() + 1);  // also without FD_CLOEXEC
  ASSERT_GT(high, inherited.get());
  for (const int fd : {low, high}) {
    ChildProcess child = spawn_child("expect_fd_closed", {std::to_string(fd)}, {inherited.get()});
    EXPECT_EQ(child.wait(), (Status{false, 0})) << "fd " << fd << " leaked into the child";
  }
  ::close(low);
  ::close(high);
}

TEST(ChildProcess, ChildStartsWithSignalsUnblockedAndAtTheirDefaults) {
  sigset_t usr1;
  sigset_t old_mask;
  ::sigemptyset(&usr1);
  ::sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask), 0);
  struct sigaction ignore {};
  struct sigaction old_action {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGUSR2, &ignore, &old_action), 0);

  ChildProcess blocked = spawn_child("expect_signal_default", {std::to_string(SIGUSR1)});
  ChildProcess ignored = spawn_child("expect_signal_default", {std::to_string(SIGUSR2)});
  const Status blocked_status = blocked.wait();
  const Status ignored_status = ignored.wait();

  ::sigaction(SIGUSR2, &old_action, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  EXPECT_EQ(blocked_status, (Status{false, 0})) << "SIGUSR1 still blocked in the child";
  EXPECT_EQ(ignored_status, (Status{false, 0})) << "SIGUSR2 still ignored in the child";
}

TEST(ChildProcess, SpawningAMissingExecutableThrowsNamingIt) {
  try {
    ChildProcess::spawn({"/nonexistent/cvpipe-no-such-binary", "x"});
    FAIL() << "spawn did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cvpipe-no-such-binary"), std::string::npos)
        << e.what();
  }
}

TEST(ChildProcess, SpawningWithEmptyArgvThrows) {
  EXPECT_THROW(ChildProcess::spawn({}), std::invalid_argument);
}

TEST(ChildProcess, DestructorKillsAndReapsARunningChild) {
  pid_t pid = -1;
  {
    ChildProcess child = spawn_child("sleep_30s");
    pid = child.pid();
    ASSERT_FALSE(child.try_wait().has_value());
  }
  int status = 0;
  errno = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1) << "the child is left as a zombie or running";
  EXPECT_EQ(errno, ECHILD);
}

TEST(ChildProcess, MoveAssignmentReapsTheChildItReplaces) {
  ChildProcess first = spawn_child("sleep_30s");
  const pid_t first_pid = first.pid();
  ChildProcess second = spawn_child("exit_with", {"4"});
  const pid_t second_pid = second.pid();
  first = std::move(second);
  errno = 0;
  EXPECT_EQ(::waitpid(first_pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_EQ(first.pid(), second_pid);
  EXPECT_EQ(second.pid(), -1);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(first.wait(), (Status{false, 4}));
}

}  // namespace
}  // namespace cvpipe
