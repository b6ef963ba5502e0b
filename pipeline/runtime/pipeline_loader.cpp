#include "pipeline/runtime/pipeline_loader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>

#include "pipeline/core/errors.hpp"
#include "pipeline/core/memory_budget.hpp"
#include "pipeline/runtime/sink.hpp"

namespace cvpipe {
namespace {

// Computes each stage's input and output format from `format` on, op by op through the stages,
// for the first `ops` ops of the chain, and checks the sink takes the last format if `check_sink`
// (then `ops` must be all of them). The first op that cannot take its input is an error, and the
// check stops there: the formats after it would be guesses. Returns whether everything checked
// fits; `largest` and `second_buffer` are what the slots need.
bool check_chain(PipelineConfig& config, FrameFormat format, std::size_t ops, bool check_sink,
                 ConfigDiagnostics& diag, std::size_t& largest, bool& second_buffer) {
  largest = format.bytes();
  second_buffer = false;
  std::size_t followed = 0;
  for (StageConfig& stage : config.stages) {
    stage.input = format;
    for (const auto& op : stage.ops) {
      if (followed++ == ops) return true;
      const FormatResult r = op.spec.output_format(format);
      if (!r.error.empty()) {
        // Ops say what they expect and the format they got; one that does not name it is told.
        const bool names_format = r.error.find(format.describe()) != std::string::npos;
        diag.add_about_object(op.mark, op.path, "op",
                              names_format ? r.error : op.spec.name + " cannot take " + format.describe() + ": " + r.error);
        return false;
      }
      format = r.format;
      largest = std::max(largest, format.bytes());
      second_buffer = second_buffer || !op.spec.in_place;
    }
    stage.output = format;
  }
  config.output_format = format;
  if (check_sink) {
    if (const std::string why = config.sink.check_format(format); !why.empty()) {
      diag.add_about_object(config.sink_mark, "sink", "type", config.sink.type + " " + why);
      return false;
    }
  }
  return true;
}

// The document has errors: follows the chain op by op, across stages, up to the first op whose own
// parameters did not parse (and to the sink, if every op and the sink parsed), from the source if
// its section parsed and it opens; else there is nothing to start from.
void check_chain_despite_errors(PipelineConfig& config, const ParseState& state, ConfigDiagnostics& diag) {
  if (!state.source_ok || config.stages.size() != state.stage_ops_parsed.size()) return;
  std::size_t ops = 0;
  bool every_op = true;
  for (std::size_t s = 0; s < config.stages.size() && every_op; ++s) {
    ops += state.stage_ops_parsed[s];
    // A stage with no ops (they are missing, or not a list) leaves the chain's meaning unknown too.
    every_op = state.stage_ops_parsed[s] == config.stages[s].ops.size() && !config.stages[s].ops.empty();
  }
  if (ops == 0) return;
  std::unique_ptr<Source> source;
  try {
    source = config.source.open(config.source_limits);
  } catch (const std::exception&) {
    return;  // an input error (exit 66): reported once the config's own errors are fixed
  }
  std::size_t largest = 0;
  bool second_buffer = false;
  (void)check_chain(config, source->format(), ops, every_op && state.sink_ok, diag, largest, second_buffer);
}

// resolve(), its errors reported through `diag`: the document's, which knows the --set
// overrides, so that an error at what a --set gave names it.
std::unique_ptr<Source> resolve_into(PipelineConfig& config, ConfigDiagnostics& diag) {
  std::unique_ptr<Source> source = config.source.open(config.source_limits);
  config.source_format = source->format();
  config.fps = source->fps();
  config.frame_count = source->frame_count();

  std::size_t largest = 0;
  bool second_buffer = false;
  const bool chain_ok =
      check_chain(config, config.source_format, std::numeric_limits<std::size_t>::max(), true, diag, largest,
                  second_buffer);
  // The segment must fit in memory with room to spare (it is memory, not disk): half of what this
  // process may use, its container's limit if it has one.
  const double segment = static_cast<double>(config.slots) * (second_buffer ? 2 : 1) * static_cast<double>(largest);
  const MemoryLimit memory = memory_limit();
  if (chain_ok && memory.bytes > 0 && segment > static_cast<double>(memory.bytes) / 2)
    diag.add(config.slots_mark, "buffers.slots",
             std::to_string(config.slots) + " slots of " + bytes_text(static_cast<double>(largest)) + " frames need " +
                 bytes_text(segment) + " of shared memory, more than half of " + memory.what + ", " +
                 bytes_text(static_cast<double>(memory.bytes)) + "; use fewer slots");
  if (!diag.ok()) throw ConfigException(diag.sorted());
  config.frame_bytes = largest;
  config.buffers_per_slot = second_buffer ? 2 : 1;
  // What a live source that reconnects may take for frames of another size: what is left of that half.
  if (memory.bytes > 0) source->reserve_memory(static_cast<std::uint64_t>(segment), memory.bytes / 2);
  return source;
}

}  // namespace

std::unique_ptr<Source> parse_and_resolve(const std::string& text, const std::string& file_name,
                                          const std::string& base_dir, const std::vector<std::string>& overrides,
                                          PipelineConfig& config,
                                          const std::function<void(PipelineConfig&)>& parsed) {
  ConfigDiagnostics diag(file_name);
  ParseState state;
  config = parse_config_into(text, base_dir, overrides, diag, state);
  if (!diag.ok()) {
    check_chain_despite_errors(config, state, diag);
    throw ConfigException(diag.sorted());
  }
  if (parsed) parsed(config);
  return resolve_into(config, diag);
}

std::unique_ptr<Source> load_and_resolve(const std::string& path, const std::vector<std::string>& overrides,
                                         PipelineConfig& config,
                                         const std::function<void(PipelineConfig&)>& parsed) {
  ConfigDiagnostics diag(path);
  const std::string text = read_config_file(path, diag);
  if (!diag.ok()) throw ConfigException(diag.sorted());
  std::unique_ptr<Source> source = parse_and_resolve(text, path, config_base_dir(path), overrides, config, parsed);
  // Where the run will write, checked now: validate says what run would, and run says it before
  // a worker starts or a file is made.
  for (const auto& [key, file] : {std::pair<std::string, std::string>{"sink.path", config.sink.writes},
                                  {"results.path", config.results_path == "-" ? "" : config.results_path}})
    if (!file.empty())
      if (const std::string why = output_folder_problem(file); !why.empty()) throw OutputError(key + ": " + why);
  return source;
}

std::unique_ptr<Source> resolve(PipelineConfig& config) {
  ConfigDiagnostics diag(config.file);
  return resolve_into(config, diag);
}


}  // namespace cvpipe
