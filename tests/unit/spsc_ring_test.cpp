#include "pipeline/core/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "pipeline/core/child_process.hpp"
#include "pipeline/core/doorbell.hpp"
#include "pipeline/core/shared_memory.hpp"
#include "tests/support/test_child.hpp"
#include "tests/support/sanitized.hpp"

namespace cvpipe {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::uint64_t kCrossProcessCount = kSanitizedBuild ? 500'000 : 5'000'000;
constexpr std::uint64_t kCrossThreadCount = kSanitizedBuild ? 200'000 : 1'000'000;
constexpr std::uint32_t kStressCapacity = 1024;
constexpr std::uint32_t kValueMask = (1u << 20) - 1;  // values are sequence numbers masked to 20 bits
constexpr auto kStressDeadline = 60s;
// Once values flow, a side that waits this long for the other has missed a wake-up.
constexpr auto kStall = 2s;

std::uint32_t value_at(std::uint64_t i) { return static_cast<std::uint32_t>(i) & kValueMask; }

SharedMemory ring_memory(std::uint32_t capacity) {
  return SharedMemory::create(SpscRing::bytes_for(capacity), "cvpipe-test-ring");
}

// The stress test's segment: two doorbells, each on its own cache line, then the ring.
struct StressControl {
  alignas(64) Doorbell data_ready;   // rung by the producer after each push
  alignas(64) Doorbell space_ready;  // rung by the consumer after each pop
};
static_assert(sizeof(StressControl) == 128);

// Pushes value_at(0..count-1) into `ring`, ringing `data_ready` after each; waits on `space_ready`
// when full. Returns false if a wait for space stalled (the consumer is always busy here).
bool produce(SpscRing& ring, StressControl& ctrl, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint32_t v = value_at(i);
    while (!ring.try_push(v)) {
      const std::uint32_t seen = ctrl.space_ready.prepare();
      if (ring.try_push(v)) break;
      if (!ctrl.space_ready.wait(seen, kStall)) return false;
    }
    ctrl.data_ready.ring();
  }
  return true;
}

struct ConsumeResult {
  std::uint64_t received = 0;
  std::uint64_t first_mismatch = UINT64_MAX;  // index of the first value out of sequence
  std::uint32_t got = 0;                      // ... and what came instead
  bool stalled = false;                       // waited kStall for data after values had flowed
};

// Pops `count` values, checking each is the next in sequence. Stops at the first mismatch, at a
// stall, or, while nothing has arrived yet (the producer may still be starting), at `deadline` or
// when `gave_up()` says the producer is gone.
template <typename GaveUp>
ConsumeResult consume(SpscRing& ring, StressControl& ctrl, std::uint64_t count,
                      Clock::time_point deadline, GaveUp gave_up) {
  ConsumeResult r;
  std::uint32_t v = 0;
  while (r.received < count) {
    if (ring.try_pop(v)) {
      ctrl.space_ready.ring();
      if (v != value_at(r.received)) {
        r.first_mismatch = r.received;
        r.got = v;
        return r;
      }
      ++r.received;
      continue;
    }
    const std::uint32_t seen = ctrl.data_ready.prepare();
    if (!ring.empty_approx()) continue;
    if (ctrl.data_ready.wait(seen, kStall)) continue;
    if (r.received > 0) {
      r.stalled = true;
      return r;
    }
    if (Clock::now() > deadline || gave_up()) return r;
  }
  return r;
}

// argv: <fd> <count>. The producer side of CrossProcessStress.
CVPIPE_TEST_CHILD(spsc_ring_produce) {
  if (argc != 2) return 2;
  SharedMemory shm = SharedMemory::attach(std::stoi(argv[0]));
  auto* base = static_cast<unsigned char*>(shm.data());
  auto& ctrl = *reinterpret_cast<StressControl*>(base);
  SpscRing ring = SpscRing::attach(base + sizeof(StressControl));
  return produce(ring, ctrl, std::stoull(argv[1])) ? 0 : 3;
}

TEST(SpscRing, BytesForRejectsCapacitiesThatAreNotPowersOfTwoAtLeastTwo) {
  for (std::uint32_t bad : {0u, 1u, 3u, 6u, 1000u, 0xFFFFFFFFu}) {
    EXPECT_THROW(SpscRing::bytes_for(bad), std::invalid_argument) << bad;
  }
  EXPECT_EQ(SpscRing::bytes_for(2), sizeof(SpscRingHeader) + 2 * sizeof(std::uint32_t));
  EXPECT_EQ(SpscRing::bytes_for(1024), sizeof(SpscRingHeader) + 4096);
}

TEST(SpscRing, CreateRejectsABadCapacity) {
  SharedMemory shm = ring_memory(8);
  EXPECT_THROW(SpscRing::create(shm.data(), 5), std::invalid_argument);
}

TEST(SpscRing, CreateRejectsMisalignedMemory) {
  SharedMemory shm = ring_memory(8);
  EXPECT_THROW(SpscRing::create(static_cast<char*>(shm.data()) + 4, 4), std::invalid_argument);
}

TEST(SpscRing, NewRingIsEmptyAndPopFails) {
  SharedMemory shm = ring_memory(8);
  SpscRing ring = SpscRing::create(shm.data(), 8);
  EXPECT_EQ(ring.capacity(), 8u);
  EXPECT_EQ(ring.size_approx(), 0u);
  EXPECT_TRUE(ring.empty_approx());
  std::uint32_t v = 42;
  EXPECT_FALSE(ring.try_pop(v));
  EXPECT_EQ(v, 42u);
}

TEST(SpscRing, PushFailsWhenFull) {
  SharedMemory shm = ring_memory(4);
  SpscRing ring = SpscRing::create(shm.data(), 4);
  for (std::uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(ring.try_push(i)) << i;
  EXPECT_FALSE(ring.try_push(99));
  EXPECT_EQ(ring.size_approx(), 4u);
  std::uint32_t v = 0;
  ASSERT_TRUE(ring.try_pop(v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(ring.try_push(4)) << "a pop must make room for one push";
  EXPECT_FALSE(ring.try_push(5));
}

TEST(SpscRing, ValuesComeOutInOrderAcrossManyWrapArounds) {
  SharedMemory shm = ring_memory(8);
  SpscRing ring = SpscRing::create(shm.data(), 8);
  std::uint32_t next_in = 0;
  std::uint32_t next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    const int batch = 1 + round % 8;
    for (int i = 0; i < batch; ++i) ASSERT_TRUE(ring.try_push(next_in++));
    EXPECT_EQ(ring.size_approx(), static_cast<std::uint32_t>(batch));
    std::uint32_t v = 0;
    for (int i = 0; i < batch; ++i) {
      ASSERT_TRUE(ring.try_pop(v));
      ASSERT_EQ(v, next_out++);
    }
    ASSERT_FALSE(ring.try_pop(v));
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(SpscRing, AttachSeesTheRingThatCreateBuilt) {
  SharedMemory shm = ring_memory(16);
  SpscRing producer = SpscRing::create(shm.data(), 16);
  SpscRing consumer = SpscRing::attach(shm.data());
  EXPECT_EQ(consumer.capacity(), 16u);
  ASSERT_TRUE(producer.try_push(7));
  EXPECT_EQ(consumer.size_approx(), 1u);
  std::uint32_t v = 0;
  ASSERT_TRUE(consumer.try_pop(v));
  EXPECT_EQ(v, 7u);
  EXPECT_TRUE(producer.empty_approx());
}

TEST(SpscRing, AttachRejectsMemoryWithoutARing) {
  SharedMemory shm = ring_memory(8);  // zero-filled
  try {
    SpscRing::attach(shm.data());
    FAIL() << "attach accepted zeroed memory";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "spsc ring: bad magic");
  }
}

TEST(SpscRing, AttachRejectsACorruptCapacity) {
  SharedMemory shm = ring_memory(8);
  SpscRing::create(shm.data(), 8);
  static_cast<SpscRingHeader*>(shm.data())->capacity = 6;
  EXPECT_THROW(SpscRing::attach(shm.data()), std::runtime_error);
}

TEST(SpscRing, ThreadsPassEveryValueOnceAndInOrder) {
  SharedMemory shm = SharedMemory::create(
      sizeof(StressControl) + SpscRing::bytes_for(kStressCapacity), "cvpipe-test-ring");
  auto* base = static_cast<unsigned char*>(shm.data());
  auto& ctrl = *reinterpret_cast<StressControl*>(base);
  Doorbell::init(&ctrl.data_ready);
  Doorbell::init(&ctrl.space_ready);
  SpscRing consumer_view = SpscRing::create(base + sizeof(StressControl), kStressCapacity);
  SpscRing producer_view = SpscRing::attach(base + sizeof(StressControl));

  const auto deadline = Clock::now() + kStressDeadline;
  bool produced = false;
  std::atomic<bool> producer_done{false};
  std::thread producer([&] {
    produced = produce(producer_view, ctrl, kCrossThreadCount);
    producer_done.store(true);
  });
  const ConsumeResult r = consume(consumer_view, ctrl, kCrossThreadCount, deadline,
                                  [&] { return producer_done.load(); });
  producer.join();

  EXPECT_TRUE(produced) << "the producer stalled waiting for space";
  EXPECT_FALSE(r.stalled) << "the consumer stalled waiting for data";
  EXPECT_EQ(r.first_mismatch, UINT64_MAX) << "got " << r.got;
  EXPECT_EQ(r.received, kCrossThreadCount);
  EXPECT_TRUE(consumer_view.empty_approx());
}

TEST(SpscRing, CrossProcessStressLosesDuplicatesAndReordersNothing) {
  SharedMemory shm = SharedMemory::create(
      sizeof(StressControl) + SpscRing::bytes_for(kStressCapacity), "cvpipe-test-ring");
  auto* base = static_cast<unsigned char*>(shm.data());
  auto& ctrl = *reinterpret_cast<StressControl*>(base);
  Doorbell::init(&ctrl.data_ready);
  Doorbell::init(&ctrl.space_ready);
  SpscRing ring = SpscRing::create(base + sizeof(StressControl), kStressCapacity);

  const auto start = Clock::now();
  ChildProcess child = ChildProcess::spawn(
      test_child_argv("spsc_ring_produce",
                      {std::to_string(shm.fd()), std::to_string(kCrossProcessCount)}),
      {shm.fd()});
  const ConsumeResult r = consume(ring, ctrl, kCrossProcessCount, start + kStressDeadline,
                                  [&] { return child.try_wait().has_value(); });
  const ChildProcess::ExitStatus status = wait_at_most(child, 10s);
  const auto elapsed = Clock::now() - start;

  EXPECT_EQ(status, (ChildProcess::ExitStatus{false, 0})) << "3: the producer stalled";
  EXPECT_FALSE(r.stalled) << "the consumer stalled waiting for data";
  EXPECT_EQ(r.first_mismatch, UINT64_MAX)
      << "expected " << value_at(r.first_mismatch) << " got " << r.got;
  EXPECT_EQ(r.received, kCrossProcessCount);
  std::uint32_t extra = 0;
  EXPECT_FALSE(ring.try_pop(extra)) << "a value beyond the count arrived: " << extra;
  RecordProperty("elapsed_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

}  // namespace
}  // namespace cvpipe
