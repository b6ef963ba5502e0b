#include "pipeline/core/doorbell.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <new>

namespace cvpipe {
namespace {

std::uint32_t* futex_word(std::atomic<std::uint32_t>& a) noexcept {
  return reinterpret_cast<std::uint32_t*>(&a);
}

}  // namespace

void Doorbell::init(Doorbell* d) noexcept {
  ::new (static_cast<void*>(d)) Doorbell{};
  d->seq.store(0, std::memory_order_relaxed);
  d->waiters.store(0, std::memory_order_relaxed);
}

bool Doorbell::wait(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) {
    return seq.load(std::memory_order_acquire) != seen;
  }
  waiters.fetch_add(1, std::memory_order_seq_cst);
  bool woke = true;
  if (seq.load(std::memory_order_seq_cst) == seen) {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    struct timespec ts {};
    ts.tv_sec = static_cast<time_t>(secs.count());
    ts.tv_nsec = static_cast<long>((timeout - secs).count());
    // FUTEX_WAIT's timeout is relative. EAGAIN: seq moved; EINTR: a signal (a spurious return).
    const long rc = ::syscall(SYS_futex, futex_word(seq), FUTEX_WAIT, seen, &ts, nullptr, 0);
    if (rc != 0 && errno == ETIMEDOUT) woke = seq.load(std::memory_order_acquire) != seen;
  }
  waiters.fetch_sub(1, std::memory_order_release);
  return woke;
}

void Doorbell::ring() noexcept {
  // The seq_cst RMW is the fence between what the caller published and the read of waiters.
  seq.fetch_add(1, std::memory_order_seq_cst);
  if (waiters.load(std::memory_order_seq_cst) == 0) return;
  const int saved_errno = errno;  // async-signal-safety: the interrupted code may be reading errno
  ::syscall(SYS_futex, futex_word(seq), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  errno = saved_errno;
}

}  // namespace cvpipe
