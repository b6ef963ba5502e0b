#pragma once
// Loggers: one named spdlog logger per component ("capture", "supervisor", "writer", "worker.3"),
// to stderr so containers collect it. The level comes from config and can be overridden with
// SPDLOG_LEVEL (e.g. SPDLOG_LEVEL=debug or SPDLOG_LEVEL=writer=debug).
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace cvpipe {

// Sets the default level and pattern for loggers made afterwards; applies SPDLOG_LEVEL.
void init_logging(const std::string& level);
// The logger named `name`, made on first use.
std::shared_ptr<spdlog::logger> get_logger(const std::string& name);

}  // namespace cvpipe
