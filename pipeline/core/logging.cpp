#include "pipeline/core/logging.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "pipeline/core/clock.hpp"

namespace cvpipe {

void init_logging(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
  spdlog::cfg::load_env_levels();
}

std::shared_ptr<spdlog::logger> get_logger(const std::string& name) {
  if (auto existing = spdlog::get(name)) return existing;
  // Loggers made after load_env_levels() take their level from the registry's rules.
  return spdlog::stderr_color_mt(name);
}

bool RateLimitedLog::admit(std::int64_t now_ns, std::uint64_t& suppressed) noexcept {
  if (logged_once_ && now_ns - last_ns_ < kIntervalNs) {
    ++suppressed_;
    return false;
  }
  suppressed = suppressed_;
  suppressed_ = 0;
  last_ns_ = now_ns;
  logged_once_ = true;
  return true;
}

std::int64_t RateLimitedLog::now_ns() noexcept { return monotonic_ns(); }

}  // namespace cvpipe
