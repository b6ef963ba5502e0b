#pragma once
// Loggers: one named spdlog logger per component ("capture", "supervisor", "writer", "worker.3"),
// to stderr so containers collect it. The level comes from config and can be overridden with
// SPDLOG_LEVEL (e.g. SPDLOG_LEVEL=debug or SPDLOG_LEVEL=writer=debug).
#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace cvpipe {

// Sets the default level and pattern for loggers made afterwards; applies SPDLOG_LEVEL.
void init_logging(const std::string& level);
// The logger named `name`, made on first use.
std::shared_ptr<spdlog::logger> get_logger(const std::string& name);

// The same event logged at most once a second, with a count of those held back in between (as
// spdlog's own error handler does), so that a failure repeated every frame does not flood the log.
// One thread; never blocks.
class RateLimitedLog {
 public:
  // Whether an event at `now_ns` (any monotonic clock) is logged; if so, `suppressed` is how many
  // were held back since the last one logged.
  bool admit(std::int64_t now_ns, std::uint64_t& suppressed) noexcept;

  template <class... Args>
  void warn(spdlog::logger& log, spdlog::format_string_t<Args...> fmt, Args&&... args) {
    std::uint64_t suppressed = 0;
    if (!admit(now_ns(), suppressed)) return;
    if (suppressed > 0) log.warn("(suppressed {} similar messages in the last second)", suppressed);
    log.warn(fmt, std::forward<Args>(args)...);
  }

 private:
  static std::int64_t now_ns() noexcept;
  static constexpr std::int64_t kIntervalNs = 1'000'000'000;
  bool logged_once_ = false;
  std::int64_t last_ns_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace cvpipe
