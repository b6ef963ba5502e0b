#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>

namespace cvpipe {

// Doorbell is an event count for waking a consumer in another process (or thread) when a producer
// has published something, e.g. pushed to an SpscRing. It lives in shared memory (no pointers) and
// sleeps on a futex without FUTEX_PRIVATE_FLAG, so it works across a MAP_SHARED memfd mapping.
//
// Protocol. Consumer:
//     for (;;) {
//       const std::uint32_t seen = bell.prepare();   // 1. read seq BEFORE looking at the queues
//       if (try_take_work()) { ...; continue; }       // 2. look
//       bell.wait(seen, timeout);                     // 3. sleep only if nobody rang since 1
//     }
// Producer: publish (e.g. try_push), then bell.ring().
//
// Why no wake-up is lost: ring() bumps seq and only then reads waiters; wait() bumps waiters and
// only then re-reads seq. All four accesses are seq_cst, so at least one side sees the other's
// write: either wait() sees seq != seen and returns, or ring() sees waiters > 0 and calls
// FUTEX_WAKE. FUTEX_WAIT itself re-checks seq == seen atomically in the kernel, so a ring between
// the re-check and the sleep makes FUTEX_WAIT return at once. A consumer that read seq in step 1
// after a ring sees that ring's data in step 2 (seq's RMW releases, prepare() acquires).
// A busy pipeline pays one atomic add per ring() and no system call: FUTEX_WAKE is issued only
// while someone waits. A waiter killed mid-wait leaves waiters > 0; that costs a needless
// FUTEX_WAKE per ring(), never a lost wake-up.
//
// Any number of producers and consumers may use one Doorbell; ring() wakes every waiter.
// Never allocates. wait() blocks; ring() and prepare() never block, and ring() is
// async-signal-safe (it may be called from a SIGCHLD handler).
struct Doorbell {
  std::atomic<std::uint32_t> seq;      // bumped by every ring(); the futex word
  std::atomic<std::uint32_t> waiters;  // consumers inside wait()

  // Zeroes a Doorbell placed in fresh shared memory, before any other process uses it.
  static void init(Doorbell* d) noexcept;

  // Consumer: the ring count to pass to wait(). Acquire, so what producers published before the
  // ring that this value includes is visible.
  std::uint32_t prepare() const noexcept { return seq.load(std::memory_order_acquire); }

  // Consumer: sleeps until seq != seen (or a spurious wake-up, or a signal), at most `timeout`.
  // Returns false only when the timeout expired with seq still == seen. Returns at once if seq
  // already moved. Callers loop: re-check their queues after every return.
  bool wait(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept;

  // Producer: after publishing. Bumps seq; wakes all waiters if there are any.
  void ring() noexcept;
};

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));  // the futex word
static_assert(std::is_trivially_copyable_v<Doorbell>);
static_assert(std::is_standard_layout_v<Doorbell>);

}  // namespace cvpipe
