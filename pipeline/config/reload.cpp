#include "pipeline/config/reload.hpp"

#include <yaml-cpp/yaml.h>

#include <set>

namespace cvpipe {
namespace {

// Equal as data: mapping keys in any order, scalars by their text.
bool same(const YAML::Node& a, const YAML::Node& b) {
  const bool a_empty = !a.IsDefined() || a.IsNull(), b_empty = !b.IsDefined() || b.IsNull();
  if (a_empty || b_empty) return a_empty == b_empty;
  if (a.Type() != b.Type()) return false;
  if (a.IsScalar()) return a.Scalar() == b.Scalar();
  if (a.size() != b.size()) return false;
  if (a.IsSequence()) {
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!same(a[i], b[i])) return false;
    return true;
  }
  for (const auto& kv : a)
    if (!same(kv.second, b[kv.first.Scalar()])) return false;
  return true;
}

std::set<std::string> keys_of(const YAML::Node& map) {
  std::set<std::string> keys;
  if (map.IsMap())
    for (const auto& kv : map) keys.insert(kv.first.Scalar());
  return keys;
}

}  // namespace

ReloadPlan plan_reload(const PipelineConfig& running, const PipelineConfig& reloaded) {
  ReloadPlan plan;
  for (const auto& stage : running.stages) plan.workers.push_back(stage.workers);
  const YAML::Node before = YAML::Load(running.resolved_yaml);
  const YAML::Node after = YAML::Load(reloaded.resolved_yaml);

  std::set<std::string> keys = keys_of(before);
  keys.merge(keys_of(after));
  for (const std::string& key : keys)
    if (key != "stages" && !same(before[key], after[key])) plan.ignored.push_back(key);

  bool same_stages = running.stages.size() == reloaded.stages.size();
  for (std::size_t i = 0; same_stages && i < running.stages.size(); ++i)
    same_stages = running.stages[i].name == reloaded.stages[i].name;
  if (!same_stages) {
    plan.ignored.push_back("stages (added, removed, renamed or reordered)");
    return plan;
  }
  for (std::size_t i = 0; i < running.stages.size(); ++i) {
    YAML::Node a = YAML::Clone(before["stages"][i]), b = YAML::Clone(after["stages"][i]);
    a.remove("workers");
    b.remove("workers");
    const std::string& name = running.stages[i].name;
    if (!same(a, b)) plan.ignored.push_back("stages." + name + " (other than workers)");
    const int from = running.stages[i].workers, to = reloaded.stages[i].workers;
    if (from != to) {
      plan.workers[i] = to;
      plan.resized.push_back(name + " " + std::to_string(from) + " -> " + std::to_string(to));
    }
  }
  return plan;
}

}  // namespace cvpipe
