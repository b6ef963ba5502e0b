#pragma once
// Live sources (url, camera) that come back by themselves.
//
// ReconnectingSource wraps a live source. When the inner source stops delivering (stream closed, no
// frame within its read timeout, device unplugged) it logs one warning, drops it and opens a new
// one with exponential backoff and jitter, one log line per failed attempt, until it succeeds or
// `attempts` failed attempts in a row have been made. Meanwhile read() blocks; the run, its workers
// and its output stay up. The section every live source accepts:
//   reconnect:
//     delay: 0.5       # seconds before the first attempt after a loss; doubles after each failure
//     max_delay: 30    # the longest wait between two attempts
//     attempts: 0      # failed attempts in a row before giving up (read() then fails); 0: forever
//
// The frame format is the first inner source's for the whole run (shared-memory slots are sized
// for it): a reconnected source with other frames is converted (cv::resize, cv::cvtColor), with one
// warning. Media time (meta.pts_us) stays increasing across reconnections, with the outage in it.
//
// read() is called by the capture thread only; interrupt() from any thread. Owns the inner source.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/core/clock.hpp"
#include "pipeline/runtime/source.hpp"

namespace cvpipe {

struct ReconnectPolicy {
  double delay_s = 0.5;        // before the first attempt after a loss
  double max_delay_s = 30;     // the longest wait
  std::int64_t attempts = 0;   // failed attempts in a row before giving up; 0: never give up
  bool at_start = true;        // also when the source cannot be opened at start (run only)
};

// Reads the `reconnect:` section of a live source's section. Errors go to the reader.
ReconnectPolicy read_reconnect_policy(ConfigReader& source);

// Each wait is drawn between (1 - kReconnectJitter) and 1 times its nominal value, so that many
// daemons that lost the same camera do not all knock at once.
inline constexpr double kReconnectJitter = 0.25;

// The wait before reconnect attempt `attempt` (1: the first after a loss): the nominal
// delay_s * 2^(attempt - 1), at most max_delay_s, times (1 - kReconnectJitter * unit), where `unit`
// is a random draw in [0, 1). Pure; never more than max_delay_s.
double reconnect_delay(const ReconnectPolicy& policy, std::int64_t attempt, double unit);

// Media time for a live source: microseconds since the source's first frame, from the timestamps
// the backend reports (CAP_PROP_POS_MSEC: a stream's pts, a V4L2 buffer's time) while they are
// usable and keep within max_drift_us of the monotonic clock, else from that clock: a recording
// plays at the speed of the wall clock whatever rate the source announces. Strictly increasing.
class LiveClock {
 public:
  static constexpr std::int64_t kMaxDriftUs = 1'000'000;
  explicit LiveClock(std::int64_t max_drift_us = kMaxDriftUs) : max_drift_us_(max_drift_us) {}
  // `reported_ms`: what the backend says of the frame just read (any value; NaN if nothing);
  // `read_ns`: when it was read (CLOCK_MONOTONIC), now unless it was read earlier and kept.
  std::int64_t pts_us(double reported_ms, std::int64_t read_ns);
  std::int64_t pts_us(double reported_ms) { return pts_us(reported_ms, monotonic_ns()); }

 private:
  std::int64_t max_drift_us_;
  bool started_ = false;
  bool use_reported_ = false;
  double first_reported_ms_ = 0;
  std::int64_t first_frame_ns_ = 0;
  std::int64_t clock_origin_ns_ = 0;
  std::int64_t last_us_ = -1;
};

class ReconnectingSource final : public Source {
 public:
  using Opener = std::function<std::unique_ptr<Source>()>;

  // Opens the inner source once: its InputError propagates, so a source that cannot be opened at
  // start ends the run (exit 66) as any other input. `description` names it in logs.
  ReconnectingSource(std::string description, Opener open, ReconnectPolicy policy);

  FrameFormat format() const override { return format_; }
  double fps() const override { return fps_; }
  std::int64_t frame_count() const override { return -1; }
  // Blocks while reconnecting. kEnd once interrupted; kError after giving up.
  Read read(cv::Mat& into, FrameMeta& meta, std::string& error) override;
  // Makes a wait before a reconnect attempt return at once, and read() return kEnd from then on.
  // A read or an open already in the inner source ends by its own timeout.
  void interrupt() noexcept override;
  std::uint64_t reconnects() const override { return reconnects_.load(std::memory_order_relaxed); }
  // A source that comes back with frames of another size needs buffers of its own for them: they
  // must fit in `budget` less `committed`, or the read fails (the run ends, exit 66).
  void reserve_memory(std::uint64_t committed, std::uint64_t budget) override;

 private:
  Read read_inner(cv::Mat& into, FrameMeta& meta, std::string& error);
  // Opens a new inner source after a loss; kFrame when one is open.
  Read reconnect(const std::string& why, std::string& error);
  // Takes the new inner source; why it cannot, or "".
  std::string adopt_inner();
  bool wait(double seconds);  // false when interrupted

  std::string description_;
  Opener open_;
  ReconnectPolicy policy_;
  std::unique_ptr<Source> inner_;
  FrameFormat format_;        // of the first inner source: the run's
  FrameFormat inner_format_;  // of the current one
  double fps_ = 25;
  cv::Mat scratch_;           // the inner frame, when it must be converted
  std::string gave_up_;       // the error once attempts ran out

  bool new_session_ = false;  // the next frame is a reconnected source's first
  std::int64_t pts_offset_us_ = 0;
  std::int64_t last_pts_us_ = -1;
  std::chrono::steady_clock::time_point last_frame_at_;

  std::mt19937_64 rng_{std::random_device{}()};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> interrupted_{false};
  std::atomic<std::uint64_t> reconnects_{0};
  std::uint64_t committed_ = 0, budget_ = 0;  // reserve_memory(); 0: not told
};

// The spec of a live source of type `type` that reconnects by `policy`; `open` opens one inner
// source within the run's limits (throwing InputError when it cannot).
using LimitedOpener = std::function<std::unique_ptr<Source>(const SourceLimits&)>;
SourceSpec reconnecting_source_spec(std::string type, std::string description, LimitedOpener open,
                                    const ReconnectPolicy& policy);

}  // namespace cvpipe
