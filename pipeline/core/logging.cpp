#include "pipeline/core/logging.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/secrets.hpp"

namespace cvpipe {
namespace {

constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v";

// Every line's URLs with their credentials masked (secrets.hpp), whatever logged them: a message
// built from a library's error or a config value cannot leak a camera's password into the log.
class MaskingFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (payload.find("://") == std::string_view::npos) return pattern_.format(msg, dest);
    spdlog::memory_buf_t line;
    pattern_.format(msg, line);
    const std::string masked = mask_secrets_in_text(std::string_view(line.data(), line.size()));
    dest.append(masked.data(), masked.data() + masked.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<MaskingFormatter>(); }

 private:
  spdlog::pattern_formatter pattern_{kPattern};
};

}  // namespace

void init_logging(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_formatter(std::make_unique<MaskingFormatter>());
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
