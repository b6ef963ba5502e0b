#include "pipeline/runtime/signals.hpp"

#include <pthread.h>

#include <ctime>

#include "pipeline/core/clock.hpp"

namespace cvpipe {
namespace {

constexpr std::int64_t kSameRequestNs = 100'000'000;

sigset_t daemon_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1}) sigaddset(&set, sig);
  return set;
}

}  // namespace

void block_daemon_signals() {
  const sigset_t set = daemon_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::optional<SignalEvent> wait_for_signal(std::int64_t timeout_ns) {
  const sigset_t set = daemon_signals();
  const timespec timeout{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
  siginfo_t info;
  const int sig = sigtimedwait(&set, &info, &timeout);
  if (sig < 0) return std::nullopt;
  return SignalEvent{sig, info.si_code, info.si_pid};
}

bool stop_requested_while_blocked() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM);
}

bool sleep_unless_stopped(double seconds) {
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  const std::int64_t deadline = monotonic_ns() + static_cast<std::int64_t>(seconds * 1e9);
  for (std::int64_t left = deadline - monotonic_ns(); left > 0; left = deadline - monotonic_ns()) {
    const timespec timeout{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    if (sigtimedwait(&stops, nullptr, &timeout) > 0) return false;  // EAGAIN: the time is up; EINTR: again
  }
  return true;
}

StopRequests::Action StopRequests::on_stop_signal(const SignalEvent& event, std::int64_t now_ns) {
  if (first_ && first_->sig == event.sig && first_->code == event.code && first_->pid == event.pid &&
      now_ns - first_ns_ < kSameRequestNs)
    return Action::kRepeat;
  if (!first_) {
    first_ = event;
    first_ns_ = now_ns;
  }
  return ++taken_ == 1 ? Action::kDrain : Action::kStopNow;
}

}  // namespace cvpipe
