#pragma once
// The signals the daemon handles, and what a stop request means. The daemon blocks SIGINT,
// SIGTERM, SIGHUP, SIGCHLD and SIGUSR1 in every thread (block_daemon_signals(), first thing in
// main()), and its main thread takes them one at a time with wait_for_signal(): no handler runs
// in the middle of anything.
//
// Main thread only, but stop_requested_while_blocked(), which any thread may call.
#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace cvpipe {

// Blocks the daemon's signals in the calling thread and every thread it starts afterwards.
void block_daemon_signals();

struct SignalEvent {
  int sig = 0;
  int code = 0;    // si_code: who sent it (SI_USER from kill, SI_KERNEL, ...)
  pid_t pid = 0;   // the sender, for SI_USER
};

// Waits up to `timeout_ns` for one of the daemon's signals; nullopt when none came.
std::optional<SignalEvent> wait_for_signal(std::int64_t timeout_ns);
// Whether a SIGINT or SIGTERM is pending, not yet taken (while the workers start).
bool stop_requested_while_blocked();
// Sleeps up to `seconds`, or until a SIGINT or SIGTERM (blocked) arrives, which it takes: false
// then. What a run waits with before it starts (a source down at start).
bool sleep_unless_stopped(double seconds);

// What the SIGINT and SIGTERM of a run ask for: the first, to finish the frames in flight; the
// next, to stop at once. A signal that repeats the first at once (same signal, sender and code
// within 100 ms) is the same request: GNU timeout signals the daemon and then its whole process
// group, which is the daemon again.
class StopRequests {
 public:
  enum class Action { kRepeat, kDrain, kStopNow };
  // `event` is a SIGINT or SIGTERM taken at `now_ns` (monotonic).
  Action on_stop_signal(const SignalEvent& event, std::int64_t now_ns);

 private:
  std::optional<SignalEvent> first_;
  std::int64_t first_ns_ = 0;
  int taken_ = 0;
};

}  // namespace cvpipe
