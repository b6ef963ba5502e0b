#include "pipeline/config/catalog.hpp"

#include <algorithm>
#include <atomic>

namespace cvpipe {
namespace {

std::atomic<TypeLoader*> g_loader{nullptr};

}  // namespace

void set_type_loader(TypeLoader* loader) noexcept { g_loader.store(loader); }

template <class Info>
const Info* find_type(const NamedRegistry<Info>& registry, std::string_view kind, std::string_view name,
                      std::vector<std::string>& known) {
  TypeLoader* const loader = g_loader.load();
  const Info* info = registry.find(name);
  if (!info && loader) {
    loader->load(kind, name);
    info = registry.find(name);
  }
  if (info) return info;
  known = registry.names();
  if (loader)
    for (std::string& n : loader->names(kind))
      if (std::find(known.begin(), known.end(), n) == known.end()) known.push_back(std::move(n));
  std::sort(known.begin(), known.end());
  return nullptr;
}

template const OpInfo* find_type(const OpRegistry&, std::string_view, std::string_view, std::vector<std::string>&);
template const SourceInfo* find_type(const SourceRegistry&, std::string_view, std::string_view,
                                     std::vector<std::string>&);
template const SinkInfo* find_type(const SinkRegistry&, std::string_view, std::string_view, std::vector<std::string>&);

std::vector<ParamDoc> describe_params(const std::function<void(ConfigReader&)>& parse) {
  ConfigDiagnostics diag("(describe)");
  diag.start_describing();
  ConfigReader reader(YAML::Node(YAML::NodeType::Map), "", diag);
  parse(reader);
  return diag.docs();
}

}  // namespace cvpipe
