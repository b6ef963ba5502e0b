#include "pipeline/core/shared_memory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "pipeline/core/child_process.hpp"
#include "tests/support/test_child.hpp"

namespace cvpipe {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kBytes = 1 << 20;

std::set<std::string> list_dir(const char* path) {
  std::set<std::string> names;
  DIR* dir = ::opendir(path);
  if (dir == nullptr) return names;
  while (const dirent* e = ::readdir(dir)) names.insert(e->d_name);
  ::closedir(dir);
  return names;
}

std::string fd_target(int fd) {
  char buf[256];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

std::uint8_t pattern(std::size_t i) { return static_cast<std::uint8_t>(i * 31 + 7); }

// argv: <fd>. Checks the parent's pattern, then writes its reply (the pattern, inverted).
CVPIPE_TEST_CHILD(shared_memory_check_and_reply) {
  if (argc != 1) return 2;
  SharedMemory shm = SharedMemory::attach(std::stoi(argv[0]));
  if (shm.size() != kBytes) return 3;
  auto* bytes = static_cast<std::uint8_t*>(shm.data());
  for (std::size_t i = 0; i < kBytes / 2; ++i) {
    if (bytes[i] != pattern(i)) return 4;
  }
  for (std::size_t i = kBytes / 2; i < kBytes; ++i) bytes[i] = static_cast<std::uint8_t>(~pattern(i));
  return 0;
}

TEST(SharedMemory, CreateGivesAZeroFilledSegmentOfTheRequestedSize) {
  SharedMemory shm = SharedMemory::create(kBytes, "cvpipe-test");
  ASSERT_NE(shm.data(), nullptr);
  EXPECT_EQ(shm.size(), kBytes);
  const auto* bytes = static_cast<const std::uint8_t*>(shm.data());
  std::size_t nonzero = 0;
  for (std::size_t i = 0; i < kBytes; ++i) nonzero += bytes[i] != 0;
  EXPECT_EQ(nonzero, 0u);
}

TEST(SharedMemory, CreateRejectsAZeroSizedSegment) {
  EXPECT_THROW(SharedMemory::create(0, "cvpipe-test"), std::invalid_argument);
}

TEST(SharedMemory, FdIsCloseOnExec) {
  SharedMemory shm = SharedMemory::create(4096, "cvpipe-test");
  const int flags = ::fcntl(shm.fd(), F_GETFD);
  ASSERT_NE(flags, -1);
  EXPECT_TRUE(flags & FD_CLOEXEC);
}

TEST(SharedMemory, IsAMemfdNamedAsAskedAndNothingAppearsInDevShm) {
  const std::set<std::string> before = list_dir("/dev/shm");
  SharedMemory shm = SharedMemory::create(kBytes, "cvpipe-frames");
  EXPECT_EQ(fd_target(shm.fd()).rfind("/memfd:cvpipe-frames", 0), 0u) << fd_target(shm.fd());
  EXPECT_EQ(list_dir("/dev/shm"), before);
}

TEST(SharedMemory, SizeIsSealedAgainstTruncation) {
  SharedMemory shm = SharedMemory::create(kBytes, "cvpipe-test");
  EXPECT_NE(::ftruncate(shm.fd(), 0), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(::ftruncate(shm.fd(), 2 * kBytes), 0);
}

TEST(SharedMemory, AttachMapsTheSameMemoryAndLeavesTheCallersFdAlone) {
  SharedMemory created = SharedMemory::create(kBytes, "cvpipe-test");
  {
    SharedMemory attached = SharedMemory::attach(created.fd());
    EXPECT_EQ(attached.size(), kBytes);
    EXPECT_NE(attached.fd(), created.fd());
    EXPECT_NE(attached.data(), created.data());
    static_cast<std::uint8_t*>(attached.data())[kBytes - 1] = 0xAB;
    EXPECT_EQ(static_cast<std::uint8_t*>(created.data())[kBytes - 1], 0xAB);
    const int flags = ::fcntl(attached.fd(), F_GETFD);
    ASSERT_NE(flags, -1);
    EXPECT_TRUE(flags & FD_CLOEXEC);
  }
  EXPECT_NE(::fcntl(created.fd(), F_GETFD), -1) << "attach's destructor closed the caller's fd";
}

TEST(SharedMemory, AttachToABadFdThrowsSystemError) {
  try {
    SharedMemory::attach(-1);
    FAIL() << "attach(-1) did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EBADF);
    EXPECT_NE(std::string(e.what()).find("fd -1"), std::string::npos) << e.what();
  }
}

TEST(SharedMemory, MoveLeavesTheSourceEmpty) {
  SharedMemory a = SharedMemory::create(4096, "cvpipe-test");
  void* data = a.data();
  const int fd = a.fd();
  SharedMemory b = std::move(a);
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.fd(), fd);
  EXPECT_EQ(b.size(), 4096u);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.fd(), -1);
}

TEST(SharedMemory, DataIsVisibleAcrossProcesses) {
  SharedMemory shm = SharedMemory::create(kBytes, "cvpipe-test");
  auto* bytes = static_cast<std::uint8_t*>(shm.data());
  for (std::size_t i = 0; i < kBytes / 2; ++i) bytes[i] = pattern(i);

  ChildProcess child = ChildProcess::spawn(
      test_child_argv("shared_memory_check_and_reply", {std::to_string(shm.fd())}), {shm.fd()});
  const ChildProcess::ExitStatus status = wait_at_most(child, 10s);
  ASSERT_EQ(status, (ChildProcess::ExitStatus{false, 0}));

  std::size_t wrong = 0;
  for (std::size_t i = kBytes / 2; i < kBytes; ++i) {
    wrong += bytes[i] != static_cast<std::uint8_t>(~pattern(i));
  }
  EXPECT_EQ(wrong, 0u);
}

}  // namespace
}  // namespace cvpipe
