#include "pipeline/modules/io/reconnecting_source.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/memory_budget.hpp"
#include "pipeline/core/logging.hpp"

namespace cvpipe {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The cvtColor code from `from` to `to` channels (8-bit BGR, gray or BGRA), or -1.
int color_conversion(int from, int to) {
  if (from == 1 && to == 3) return cv::COLOR_GRAY2BGR;
  if (from == 1 && to == 4) return cv::COLOR_GRAY2BGRA;
  if (from == 3 && to == 1) return cv::COLOR_BGR2GRAY;
  if (from == 3 && to == 4) return cv::COLOR_BGR2BGRA;
  if (from == 4 && to == 1) return cv::COLOR_BGRA2GRAY;
  if (from == 4 && to == 3) return cv::COLOR_BGRA2BGR;
  return -1;
}

// Converts `src` into `dst`'s size and type, writing into dst's own memory. False if it cannot.
bool convert_frame(const cv::Mat& src, cv::Mat& dst) {
  uchar* const target = dst.data;
  cv::Mat m = src;
  if (m.depth() != dst.depth()) {
    cv::Mat converted;
    m.convertTo(converted, dst.depth());
    m = converted;
  }
  const bool resize = m.size() != dst.size();
  const bool recolor = m.channels() != dst.channels();
  const int code = recolor ? color_conversion(m.channels(), dst.channels()) : -1;
  if (recolor && code < 0) return false;
  const int interpolation = m.cols > dst.cols ? cv::INTER_AREA : cv::INTER_LINEAR;
  if (resize && recolor) {
    cv::Mat sized;
    cv::resize(m, sized, dst.size(), 0, 0, interpolation);
    cv::cvtColor(sized, dst, code);
  } else if (resize) {
    cv::resize(m, dst, dst.size(), 0, 0, interpolation);
  } else if (recolor) {
    cv::cvtColor(m, dst, code);
  } else {
    m.copyTo(dst);
  }
  return dst.data == target;
}

}  // namespace

ReconnectPolicy read_reconnect_policy(ConfigReader& source) {
  ConfigReader r = source.map("reconnect");
  ReconnectPolicy p;
  p.delay_s = r.positive_number("delay", p.delay_s, 3600);
  p.max_delay_s = r.positive_number("max_delay", p.max_delay_s, 86400);
  p.attempts = r.integer("attempts", 0, 0, 1'000'000);
  p.at_start = r.boolean("at_start", true);
  r.document_rule("max_delay", ">= delay");
  if (!r.describing() && r.has("max_delay") && p.max_delay_s < p.delay_s) {
    char text[120];
    std::snprintf(text, sizeof text, "must be at least delay (%g), got %g", p.delay_s, p.max_delay_s);
    r.fail("max_delay", text);
  }
  p.max_delay_s = std::max(p.max_delay_s, p.delay_s);  // delay alone above the default cap raises it
  r.finish();
  return p;
}

double reconnect_delay(const ReconnectPolicy& policy, std::int64_t attempt, double unit) {
  // 2^60 times any positive delay is far above any cap; the exponent stays small.
  const int doublings = static_cast<int>(std::clamp<std::int64_t>(attempt - 1, 0, 60));
  const double nominal = std::min(policy.max_delay_s, std::ldexp(policy.delay_s, doublings));
  return nominal * (1.0 - kReconnectJitter * std::clamp(unit, 0.0, 1.0));
}

std::int64_t LiveClock::pts_us(double reported_ms, std::int64_t read_ns) {
  const std::int64_t now = read_ns;
  const bool usable = std::isfinite(reported_ms) && reported_ms >= 0;
  if (!started_) {
    started_ = true;
    use_reported_ = usable;
    first_reported_ms_ = reported_ms;
    clock_origin_ns_ = first_frame_ns_ = now;
  }
  std::int64_t us;
  if (use_reported_ && usable && reported_ms >= first_reported_ms_ &&
      (reported_ms - first_reported_ms_) * 1000.0 < 9.0e18 &&
      std::abs((reported_ms - first_reported_ms_) * 1000.0 - static_cast<double>(now - first_frame_ns_) / 1000.0) <=
          static_cast<double>(max_drift_us_)) {
    us = static_cast<std::int64_t>(std::llround((reported_ms - first_reported_ms_) * 1000.0));
  } else {
    if (use_reported_) {
      // The backend's timestamps stopped making sense, or keep another clock than the wall's (a
      // stream that says 25 fps and sends 10): the clock takes over from here, from the first
      // frame's time where the timestamps fell behind it (the video's length stays the wall's).
      use_reported_ = false;
      clock_origin_ns_ = std::min(first_frame_ns_, now - std::max<std::int64_t>(last_us_, 0) * 1000);
      if (usable)
        get_logger("source")->warn("the source's timestamps say {:.1f} s passed where the clock says {:.1f} s: its "
                                   "frames are timed by the clock from now on",
                                   (reported_ms - first_reported_ms_) / 1000.0,
                                   static_cast<double>(now - first_frame_ns_) / 1e9);
    }
    us = (now - clock_origin_ns_) / 1000;
  }
  if (last_us_ >= 0 && us <= last_us_) us = last_us_ + 1;
  last_us_ = us;
  return us;
}

ReconnectingSource::ReconnectingSource(std::string description, Opener open, ReconnectPolicy policy)
    : description_(std::move(description)), open_(std::move(open)), policy_(policy) {
  inner_ = open_();
  format_ = inner_->format();
  inner_format_ = format_;
  fps_ = inner_->fps();
}

void ReconnectingSource::interrupt() noexcept {
  {
    std::lock_guard lock(mutex_);
    interrupted_.store(true);
  }
  wake_.notify_all();
}

bool ReconnectingSource::wait(double seconds) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return interrupted_.load(); });
}

Source::Read ReconnectingSource::read_inner(cv::Mat& into, FrameMeta& meta, std::string& error) {
  if (inner_format_ == format_) return inner_->read(into, meta, error);
  scratch_.create(inner_format_.height, inner_format_.width, inner_format_.type);
  const Read r = inner_->read(scratch_, meta, error);
  if (r != Read::kFrame) return r;
  if (!convert_frame(scratch_, into)) {
    error = "cannot convert its " + inner_format_.describe() + " frames to the run's " + format_.describe();
    return Read::kError;
  }
  return Read::kFrame;
}

Source::Read ReconnectingSource::read(cv::Mat& into, FrameMeta& meta, std::string& error) {
  if (!gave_up_.empty()) {
    error = gave_up_;
    return Read::kError;
  }
  for (;;) {
    if (interrupted_.load()) return Read::kEnd;
    std::string why;
    const Read r = read_inner(into, meta, why);
    if (r == Read::kFrame) {
      const auto now = Clock::now();
      if (new_session_) {
        // The new source's media time starts over: continue from the last frame, plus the outage.
        const auto gap_us = std::chrono::duration_cast<std::chrono::microseconds>(now - last_frame_at_).count();
        pts_offset_us_ = (last_pts_us_ < 0 ? 0 : last_pts_us_ + gap_us) - meta.pts_us;
        new_session_ = false;
      }
      meta.pts_us += pts_offset_us_;
      if (last_pts_us_ >= 0 && meta.pts_us <= last_pts_us_) meta.pts_us = last_pts_us_ + 1;
      last_pts_us_ = meta.pts_us;
      last_frame_at_ = now;
      return Read::kFrame;
    }
    if (interrupted_.load()) return Read::kEnd;
    if (r == Read::kEnd || why.empty()) why = "the stream ended";
    inner_.reset();
    const Read again = reconnect(why, error);
    if (again != Read::kFrame) return again;
  }
}

Source::Read ReconnectingSource::reconnect(const std::string& why, std::string& error) {
  auto log = get_logger("source");
  const auto lost_at = Clock::now();
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double wait_s = reconnect_delay(policy_, 1, unit(rng_));
  log->warn("source lost: {}; reconnecting in {:.3g} s", why, wait_s);
  const std::string limit = policy_.attempts > 0 ? "/" + std::to_string(policy_.attempts) : "";
  for (std::int64_t attempt = 1;; ++attempt) {
    if (!wait(wait_s)) return Read::kEnd;
    std::string failure;
    try {
      inner_ = open_();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (interrupted_.load()) {
      inner_.reset();
      return Read::kEnd;
    }
    if (inner_) {
      log->info("source reconnected after {} attempt{}, {:.1f} s", attempt, attempt == 1 ? "" : "s",
                seconds_since(lost_at));
      reconnects_.fetch_add(1, std::memory_order_relaxed);
      if (const std::string refused = adopt_inner(); !refused.empty()) {
        inner_.reset();
        gave_up_ = description_ + ": " + refused;
        error = gave_up_;
        return Read::kError;
      }
      return Read::kFrame;
    }
    if (policy_.attempts > 0 && attempt >= policy_.attempts) {
      char text[64];
      std::snprintf(text, sizeof text, "%.1f", seconds_since(lost_at));
      gave_up_ = description_ + ": gave up reconnecting after " + std::to_string(attempt) + " attempt" +
                 (attempt == 1 ? "" : "s") + " in " + text + " s (reconnect.attempts=" +
                 std::to_string(policy_.attempts) + "); last: " + failure;
      error = gave_up_;
      return Read::kError;
    }
    wait_s = reconnect_delay(policy_, attempt + 1, unit(rng_));
    log->warn("reconnect attempt {}{} failed: {}; next in {:.3g} s", attempt, limit, failure, wait_s);
  }
}

std::string ReconnectingSource::adopt_inner() {
  inner_format_ = inner_->format();
  new_session_ = true;
  if (inner_format_ != format_) {
    // Frames of another size need buffers of their own: the decoder's frame and the one converted
    // from (the slots keep the run's size). They must fit in what the pipeline left of its budget.
    const std::uint64_t needed = 2 * static_cast<std::uint64_t>(inner_format_.bytes());
    if (budget_ > 0 && committed_ + needed > budget_)
      return "it came back with " + inner_format_.describe() + " frames, whose buffers (" +
             bytes_text(static_cast<double>(needed)) + ") do not fit in the memory left (" +
             bytes_text(static_cast<double>(budget_ - std::min(budget_, committed_))) + " of " +
             bytes_text(static_cast<double>(budget_)) + ", half of what this process may use)";
    get_logger("source")->warn("source reconnected with {} frames, the run's are {}: converting each frame",
                               inner_format_.describe(), format_.describe());
  }
  return "";
}

void ReconnectingSource::reserve_memory(std::uint64_t committed, std::uint64_t budget) {
  committed_ = committed;
  budget_ = budget;
}

SourceSpec reconnecting_source_spec(std::string type, std::string description, LimitedOpener open,
                                    const ReconnectPolicy& policy) {
  SourceSpec spec;
  spec.type = std::move(type);
  spec.live = true;
  spec.description = std::move(description);
  spec.open = [open = std::move(open), policy,
               description = spec.description](const SourceLimits& limits) -> std::unique_ptr<Source> {
    const ReconnectingSource::Opener opener = [open, limits] { return open(limits); };
    if (!limits.wait_to_retry || !policy.at_start) return std::make_unique<ReconnectingSource>(description, opener, policy);
    // Down at start (a camera rebooting): the same backoff as after a loss, until it answers.
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const std::string limit = policy.attempts > 0 ? "/" + std::to_string(policy.attempts) : "";
    for (std::int64_t attempt = 1;; ++attempt) {
      try {
        auto source = std::make_unique<ReconnectingSource>(description, opener, policy);
        if (attempt > 1) get_logger("source")->info("source available after {} attempts", attempt);
        return source;
      } catch (const InputError& e) {
        if (policy.attempts > 0 && attempt >= policy.attempts)
          throw InputError(std::string(e.what()) + " (gave up after " + std::to_string(attempt) + " attempt" +
                           (attempt == 1 ? "" : "s") + " at start, reconnect.attempts=" +
                           std::to_string(policy.attempts) + ")");
        const double wait_s = reconnect_delay(policy, attempt, unit(rng));
        get_logger("source")->warn("source not available at start (attempt {}{}): {}; trying again in {:.3g} s", attempt,
                                   limit, e.what(), wait_s);
        if (!limits.wait_to_retry(wait_s)) throw StopRequested("stopped while waiting for the source");
      }
    }
  };
  return spec;
}

}  // namespace cvpipe
