// main() for the unit and integration test binaries: runs gtest, or, with --test-child, one
// registered child function (see test_child.hpp).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <string>
#include <system_error>
#include <thread>

#include "tests/support/test_child.hpp"

namespace cvpipe {
namespace {

std::map<std::string, TestChildFn>& registry() {
  static std::map<std::string, TestChildFn> children;
  return children;
}

}  // namespace

bool register_test_child(const char* name, TestChildFn fn) {
  const bool inserted = registry().emplace(name, fn).second;
  if (!inserted) {
    std::fprintf(stderr, "test child registered twice: %s\n", name);
    std::abort();
  }
  return true;
}

int run_test_child(const char* name, int argc, char** argv) {
  // A child outlives no test: if the test process dies, so does the child.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const auto it = registry().find(name);
  if (it == registry().end()) {
    std::fprintf(stderr, "unknown test child: %s\n", name);
    return kTestChildUnknown;
  }
  try {
    return it->second(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test child %s threw: %s\n", name, e.what());
    return kTestChildThrew;
  }
}

std::string test_binary_path() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf));
  if (n < 0) throw std::system_error(errno, std::generic_category(), "readlink /proc/self/exe");
  if (static_cast<std::size_t>(n) >= sizeof(buf)) {
    throw std::system_error(ENAMETOOLONG, std::generic_category(), "readlink /proc/self/exe");
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

std::vector<std::string> test_child_argv(const std::string& name,
                                         const std::vector<std::string>& args) {
  std::vector<std::string> argv{test_binary_path(), "--test-child", name};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ChildProcess::ExitStatus wait_at_most(ChildProcess& child, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto status = child.try_wait()) return *status;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return child.terminate(std::chrono::seconds(1));
}

}  // namespace cvpipe

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--test-child") == 0) {
    return cvpipe::run_test_child(argv[2], argc - 3, argv + 3);
  }
  // Tests crash workers on purpose (signals, the crash op): no core files from them or their
  // children, whatever the machine's ulimit.
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
