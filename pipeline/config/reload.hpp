#pragma once
// What a SIGHUP can change on a running daemon: the worker count of each stage. plan_reload()
// compares the running config with the file as it reads now, and says which counts to apply and
// which other changes must wait for a restart.
#include <string>
#include <vector>

#include "pipeline/config/pipeline_config.hpp"

namespace cvpipe {

struct ReloadPlan {
  std::vector<int> workers;           // the new count of each running stage (unchanged if it cannot change)
  std::vector<std::string> resized;   // "edges 1 -> 3"
  std::vector<std::string> ignored;   // "sink", "stages.edges (other than workers)": changed, not applied
};

ReloadPlan plan_reload(const PipelineConfig& running, const PipelineConfig& reloaded);

}  // namespace cvpipe
