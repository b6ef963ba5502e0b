#pragma once
// A run of the daemon: the wiring of its threads and processes, in daemon.cpp.
//
//   capture thread   (capture.hpp)     reads the source into shared-memory slots
//   router thread    (supervisor.hpp)  hands slot indices to the worker processes (worker.hpp)
//                                      and back, stage after stage
//   writer thread    (writer.hpp)      restores capture order and writes to the sink
//   main thread      (this file)       signals (signals.hpp), the periodic report (run_report.hpp),
//                                      SIGHUP's resize, the drain deadline
// With --inline, the capture thread runs every op itself (inline_stages.hpp) and there is no
// router and no worker. How the threads hand slots to each other: handoff.hpp.
#include <functional>
#include <memory>
#include <string>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/runtime/source.hpp"

namespace cvpipe {

struct RunOptions {
  bool inline_mode = false;  // run the ops in the capture thread; no worker processes
  // --stats-json: a file the periodic stats are appended to as JSON lines (and a last line at the
  // end); empty: none.
  std::string stats_json;
  // --pid-file: a file that holds the daemon's pid while it runs; empty: none.
  std::string pid_file;
  // Reads the config again (SIGHUP), with the same --set overrides; throws ConfigException.
  std::function<PipelineConfig()> reload;
};

// Runs a resolved pipeline to the end of its source (or a signal, or a fatal error). Logs to
// stderr; prints the one-line JSON summary as the last line on stdout. Returns the exit code.
// Throws OutputError if an output cannot be created, std::system_error if set-up fails. Call
// block_daemon_signals() (signals.hpp) first thing in main().
int run_pipeline(PipelineConfig& config, std::unique_ptr<Source> source, const RunOptions& options);

}  // namespace cvpipe
