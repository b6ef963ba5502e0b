#pragma once
// The daemon's run: capture thread -> supervisor (router) thread and worker processes -> writer
// thread, with the main thread handling signals and printing stats.
//
// Threads hand slots to each other through moodycamel queues: free slots (writer -> capture),
// captured slots (capture -> router, with the router's doorbell), finished slots (router ->
// writer). Only slot indices move; pixels stay in the shared segment.
#include <functional>
#include <memory>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/runtime/source.hpp"

namespace cvpipe {

struct RunOptions {
  bool inline_mode = false;  // run the ops in the capture thread; no worker processes
  // --stats-json: a file the periodic stats are appended to as JSON lines (and a last line at the
  // end); empty: none.
  std::string stats_json;
  // Reads the config again (SIGHUP), with the same --set overrides; throws ConfigException.
  std::function<PipelineConfig()> reload;
};

// Blocks the signals the daemon handles (SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1) in the calling thread
// and every thread it starts afterwards. Call first thing in main().
void block_daemon_signals();

// Runs a resolved pipeline to the end of its source (or a signal, or a fatal error). Logs to
// stderr; prints the one-line JSON summary as the last line on stdout. Returns the exit code.
// Throws OutputError if the sink cannot be created, std::system_error if set-up fails.
int run_pipeline(PipelineConfig& config, std::unique_ptr<Source> source, const RunOptions& options);

}  // namespace cvpipe
