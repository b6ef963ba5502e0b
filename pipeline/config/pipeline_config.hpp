#pragma once
// PipelineConfig: the whole YAML document as plain structs, every key checked, every error found
// at once (ConfigException, exit 78): the file, then the --set overrides applied to it, then each
// section, each op, the source and the sink through their types' parsers (the catalogue,
// catalog.hpp). What needs the source opened (its frame format, the formats along the chain, the
// slots) is the runtime's (pipeline/runtime/pipeline_loader.hpp), which fills in the fields marked
// "set by resolve()" below.
#include <yaml-cpp/yaml.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "pipeline/config/catalog.hpp"
#include "pipeline/config/config_reader.hpp"
#include "pipeline/core/frame.hpp"

namespace cvpipe {

struct OpEntry {
  OpSpec spec;
  std::string path;  // stages[1].ops[0]
  YAML::Mark mark;
};

// What happens to a frame that arrives at a full queue (in front of capture or of a stage).
enum class DropPolicy {
  kBlock,       // it waits for room: nothing is lost, back-pressure reaches the source
  kDropOldest,  // the oldest waiting frame is dropped to make room (freshest output)
  kDropNewest,  // the arriving frame is dropped
};
extern const std::initializer_list<std::string_view> kDropPolicies;  // in DropPolicy's order
const char* drop_policy_name(DropPolicy p);

// How much lower than the daemon a stage's workers run by default (stages[].nice); the preview
// encoder runs as low, so that it never outranks the pipeline.
inline constexpr int kDefaultWorkerNice = 10;

struct StageConfig {
  std::string name;
  int workers = 1;
  int opencv_threads = 1;  // cv::setNumThreads in each worker
  int nice = kDefaultWorkerNice;  // each worker's niceness above the daemon's (configuration.md: stages)
  DropPolicy drop_policy = DropPolicy::kBlock;
  int queue = 1;               // frames waiting for a worker of this stage (drop policies only)
  double max_latency_ms = 0;   // a frame older than this when the stage would start it is dropped; 0: off
  // One worker, frames in capture order: set by `ordered: true` or by an op that keeps state
  // between frames (motion, optical_flow).
  bool ordered = false;
  std::vector<OpEntry> ops;
  // Set by resolve():
  FrameFormat input, output;
};

// http: the optional observability endpoint (/metrics, /healthz, /readyz).
struct HttpConfig {
  std::string listen;          // "host:port"; empty: no server
  std::string host;            // parsed from listen
  int port = 0;
  double ready_window_s = 10;  // /readyz fails when no frame was written for this long
  double preview_fps = 10;     // the preview's rate at most
  int preview_width = 640;     // and its width at most (downscaled, aspect kept)
  int max_connections = 128;   // past these, the idlest is closed or a new one gets 503
  // Host header values served (DNS rebinding); empty: the loopback names when bound to loopback,
  // any otherwise.
  std::vector<std::string> allowed_hosts;
  std::string token;           // from token_file: a bearer token every request but the probes needs
  bool metrics_public = false; // /metrics without the token
};

struct PipelineConfig {
  std::string file;           // as given on the command line
  std::string resolved_yaml;  // the document with overrides applied and secrets read (never shown)
  // The same with every secret hidden and every URL's credentials masked: what the HTTP endpoint
  // shows.
  std::string shown_yaml;
  // The `stages` section alone, as read: what workers read (parse_stage_ops()).
  std::string worker_yaml;
  std::set<std::string> secret_paths;  // the keys whose values came from !env or !file
  // The values --set gave, with what the file says there: a reload that finds the file changed
  // under a --set says so (the --set still wins).
  struct Pinned {
    std::string path;        // canonical: stages[0].workers
    std::string origin;      // --set stages.smooth.workers=3
    std::string file_value;  // the file's value there, as YAML; "(not in the file)"
  };
  std::vector<Pinned> pinned;
  SourceSpec source;
  DropPolicy capture_drop_policy = DropPolicy::kBlock;  // when no slot is free for the next frame
  SinkSpec sink;
  YAML::Mark sink_mark;
  // results.path: the JSON Lines file of per-frame detections; "-" for stdout; empty: none.
  std::string results_path;
  std::vector<StageConfig> stages;
  int slots = 0;              // frames in flight
  bool slots_given = false;
  YAML::Mark slots_mark;
  std::string log_level = "info";
  double stats_interval_s = 5;
  HttpConfig http;
  double frame_timeout_s = 30;   // a worker making no progress this long while holding frames is killed
  double shutdown_grace_s = 10;  // after SIGINT/SIGTERM, frames still in flight after this are dropped
  int crash_limit = 5;           // this many worker crashes ...
  double crash_window_s = 10;    // ... within this many seconds end the run (exit 70)
  SourceLimits source_limits;    // limits.max_frame_pixels

  // Set by resolve():
  FrameFormat source_format, output_format;
  double fps = 0;
  std::int64_t frame_count = -1;
  std::size_t frame_bytes = 0;  // the largest frame anywhere in the chain
  int buffers_per_slot = 1;     // 2 when any op writes into a second buffer
};

// Which parts of a document parsed without errors: the runtime follows the op chain through them
// when others did not, to report a chain that does not fit along with the rest.
struct ParseState {
  bool source_ok = false;
  std::vector<std::size_t> stage_ops_parsed;  // by stage: how many of its ops, from the first, parsed
  bool sink_ok = false;
};

// Parses `path` and applies `overrides` ("stages.edges.workers=3"). Throws ConfigException.
PipelineConfig load_config(const std::string& path, const std::vector<std::string>& overrides);
// The same from text (tests, workers). base_dir resolves relative paths.
PipelineConfig parse_config_text(const std::string& text, const std::string& file_name,
                                 const std::string& base_dir, const std::vector<std::string>& overrides);

// The steps of load_config(), each reporting into `diag` (which names the file) without throwing.
std::string read_config_file(const std::string& path, ConfigDiagnostics& diag);
PipelineConfig parse_config_into(const std::string& text, const std::string& base_dir,
                                 const std::vector<std::string>& overrides, ConfigDiagnostics& diag, ParseState& state);

// The op chain of stage `index` of a resolved document (what a worker process reads); relative
// paths in it are relative to `base_dir` (the config file's folder). Throws ConfigException.
std::vector<OpEntry> parse_stage_ops(const std::string& resolved_yaml, std::size_t index,
                                     const std::string& base_dir = "");

// The folder that relative paths in the config file `file` are relative to ("" for the current one).
std::string config_base_dir(const std::string& file);

// Log levels accepted by log.level.
extern const std::initializer_list<std::string_view> kLogLevels;

}  // namespace cvpipe
