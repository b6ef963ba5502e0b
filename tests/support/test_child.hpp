#pragma once

// Lets a test run code in a real child process: the test binary re-runs itself as
//     <test binary> --test-child <name> [args...]
// and test_main.cpp then calls the function registered under <name> instead of running gtest,
// exiting with its return value (leveldb's util/env_posix_test.cc does the same).
//
//     CVPIPE_TEST_CHILD(writes_greeting) {          // argv[0] is the first argument after <name>
//       return ::write(std::stoi(argv[0]), "hi", 2) == 2 ? 0 : 1;
//     }
//     auto child = ChildProcess::spawn(test_child_argv("writes_greeting", {std::to_string(fd)}), {fd});
//
// Names are global across the test binary. A child that throws exits with kTestChildThrew.

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "pipeline/core/child_process.hpp"

namespace cvpipe {

using TestChildFn = int (*)(int argc, char** argv);

inline constexpr int kTestChildThrew = 120;
inline constexpr int kTestChildUnknown = 121;

// Registers `fn` under `name`; called by CVPIPE_TEST_CHILD during static initialisation.
bool register_test_child(const char* name, TestChildFn fn);
// Runs the child registered under `name`; called by main().
int run_test_child(const char* name, int argc, char** argv);

// The absolute path of the running test binary (readlink of /proc/self/exe).
std::string test_binary_path();
// {test_binary_path(), "--test-child", name, args...}: the argv for ChildProcess::spawn.
std::vector<std::string> test_child_argv(const std::string& name,
                                         const std::vector<std::string>& args = {});

// Waits up to `timeout` for `child` to end by itself; then terminates it (SIGTERM, 1 s, SIGKILL).
// A test's bound on a child that should be exiting.
ChildProcess::ExitStatus wait_at_most(ChildProcess& child, std::chrono::milliseconds timeout);

// Lets gtest print "exit code 3" rather than the struct's bytes.
inline void PrintTo(const ChildProcess::ExitStatus& s, std::ostream* os) { *os << s.describe(); }

}  // namespace cvpipe

#define CVPIPE_TEST_CHILD(name)                                                               \
  static int cvpipe_test_child_##name(int argc, char** argv);                                 \
  [[maybe_unused]] static const bool cvpipe_test_child_registered_##name =                    \
      ::cvpipe::register_test_child(#name, &cvpipe_test_child_##name);                        \
  static int cvpipe_test_child_##name([[maybe_unused]] int argc, [[maybe_unused]] char** argv)
