#include "pipeline/core/doorbell.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "pipeline/core/child_process.hpp"
#include "pipeline/core/shared_memory.hpp"
#include "tests/support/test_child.hpp"
#include "tests/support/sanitized.hpp"

namespace cvpipe {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::uint32_t kPingPongs = kSanitizedBuild ? 20'000 : 50'000;
// A wait this long with nothing arriving means a wake-up was lost.
constexpr auto kLostWakeUp = 5s;

// What the cross-process tests share.
struct Shared {
  alignas(64) Doorbell bell;    // parent -> child
  std::atomic<std::uint32_t> ping;
  alignas(64) Doorbell reply;   // child -> parent
  std::atomic<std::uint32_t> pong;
};

Shared& shared_in(SharedMemory& shm) { return *static_cast<Shared*>(shm.data()); }

SharedMemory make_shared_segment() {
  SharedMemory shm = SharedMemory::create(sizeof(Shared), "cvpipe-test-doorbell");
  Shared& s = shared_in(shm);
  Doorbell::init(&s.bell);
  Doorbell::init(&s.reply);
  s.ping.store(0);
  s.pong.store(0);
  return shm;
}

// Waits until `counter` reaches `want`, sleeping on `bell`. False if a wait times out: the other
// side answers in microseconds, so a timeout means a lost wake-up (or a dead peer).
bool await(Doorbell& bell, const std::atomic<std::uint32_t>& counter, std::uint32_t want) {
  for (;;) {
    const std::uint32_t seen = bell.prepare();
    if (counter.load(std::memory_order_acquire) >= want) return true;
    if (!bell.wait(seen, kLostWakeUp)) return false;
  }
}

// Waits (bounded) until someone is asleep on `bell`.
bool await_waiter(const Doorbell& bell) {
  const auto deadline = Clock::now() + 10s;
  while (bell.waiters.load() == 0) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(100us);
  }
  return true;
}

// argv: <fd>. Sleeps on `bell` once; exit 0 if woken by a ring, 1 if it timed out.
CVPIPE_TEST_CHILD(doorbell_wait_once) {
  if (argc != 1) return 2;
  SharedMemory shm = SharedMemory::attach(std::stoi(argv[0]));
  Doorbell& bell = shared_in(shm).bell;
  const std::uint32_t seen = bell.prepare();
  const auto deadline = Clock::now() + 10s;
  while (bell.prepare() == seen) {
    if (Clock::now() > deadline) return 1;
    bell.wait(seen, 1s);
  }
  return 0;
}

// argv: <fd> <count>. Answers each ping with a pong.
CVPIPE_TEST_CHILD(doorbell_pong) {
  if (argc != 2) return 2;
  SharedMemory shm = SharedMemory::attach(std::stoi(argv[0]));
  Shared& s = shared_in(shm);
  const auto count = static_cast<std::uint32_t>(std::stoul(argv[1]));
  for (std::uint32_t i = 1; i <= count; ++i) {
    if (!await(s.bell, s.ping, i)) return 3;
    s.pong.store(i, std::memory_order_release);
    s.reply.ring();
  }
  return 0;
}

TEST(Doorbell, InitZeroesBothCounters) {
  Doorbell d;
  d.seq.store(7);
  d.waiters.store(3);
  Doorbell::init(&d);
  EXPECT_EQ(d.seq.load(), 0u);
  EXPECT_EQ(d.waiters.load(), 0u);
}

TEST(Doorbell, WaitTimesOutWhenNotRung) {
  Doorbell d;
  Doorbell::init(&d);
  const auto start = Clock::now();
  EXPECT_FALSE(d.wait(d.prepare(), 30ms));
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 25ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_EQ(d.waiters.load(), 0u) << "wait() must undo its waiter count";
}

TEST(Doorbell, WaitReturnsAtOnceIfRungSincePrepare) {
  Doorbell d;
  Doorbell::init(&d);
  const std::uint32_t seen = d.prepare();
  d.ring();
  const auto start = Clock::now();
  EXPECT_TRUE(d.wait(seen, 10s));
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(Doorbell, RingWithoutWaitersOnlyBumpsSeq) {
  Doorbell d;
  Doorbell::init(&d);
  d.ring();
  d.ring();
  EXPECT_EQ(d.seq.load(), 2u);
  EXPECT_EQ(d.waiters.load(), 0u);
}

TEST(Doorbell, RingWakesAWaiterInAnotherThread) {
  Doorbell d;
  Doorbell::init(&d);
  std::atomic<bool> woke{false};
  std::thread waiter([&] { woke.store(d.wait(d.prepare(), 10s)); });
  const bool asleep = await_waiter(d);
  const auto rung = Clock::now();
  d.ring();
  waiter.join();
  EXPECT_TRUE(asleep);
  EXPECT_TRUE(woke.load());
  EXPECT_LT(Clock::now() - rung, 5s);
}

TEST(Doorbell, RingWakesAWaiterInAnotherProcess) {
  SharedMemory shm = make_shared_segment();
  Doorbell& bell = shared_in(shm).bell;
  ChildProcess child = ChildProcess::spawn(
      test_child_argv("doorbell_wait_once", {std::to_string(shm.fd())}), {shm.fd()});
  ASSERT_TRUE(await_waiter(bell)) << "the child never went to sleep";
  const auto rung = Clock::now();
  bell.ring();
  const ChildProcess::ExitStatus status = wait_at_most(child, 10s);
  EXPECT_EQ(status, (ChildProcess::ExitStatus{false, 0}));
  EXPECT_LT(Clock::now() - rung, 5s);
}

TEST(Doorbell, PingPongBetweenProcessesLosesNoWakeUp) {
  SharedMemory shm = make_shared_segment();
  Shared& s = shared_in(shm);
  ChildProcess child = ChildProcess::spawn(
      test_child_argv("doorbell_pong", {std::to_string(shm.fd()), std::to_string(kPingPongs)}),
      {shm.fd()});
  std::uint32_t completed = 0;
  for (std::uint32_t i = 1; i <= kPingPongs; ++i) {
    s.ping.store(i, std::memory_order_release);
    s.bell.ring();
    if (!await(s.reply, s.pong, i)) break;
    completed = i;
  }
  const ChildProcess::ExitStatus status = wait_at_most(child, 10s);
  EXPECT_EQ(completed, kPingPongs) << "no pong within " << kLostWakeUp.count() << " s";
  EXPECT_EQ(status, (ChildProcess::ExitStatus{false, 0}));
}

}  // namespace
}  // namespace cvpipe
