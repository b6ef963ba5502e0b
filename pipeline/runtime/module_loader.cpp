#include "pipeline/runtime/module_loader.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/config/catalog.hpp"
#include "pipeline/runtime/http_endpoint.hpp"

namespace cvpipe {
namespace {

std::mutex g_mutex;
std::set<std::string> g_loaded;

void load(const std::string& module) {
  const std::lock_guard lock(g_mutex);
  if (g_loaded.count(module)) return;
  std::vector<std::string> candidates;
  if (const char* dir = std::getenv("CVPIPE_MODULE_DIR")) {
    candidates.push_back((std::filesystem::path(dir) / module).string());
  } else {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    candidates.push_back((exe.parent_path() / module).string());
    candidates.push_back((exe.parent_path().parent_path() / "lib/cvpipe" / module).string());
  }
  std::string why;
  for (const auto& path : candidates) {
    // Never unloaded: the registries keep pointers into it. Lazily bound: a function of its
    // libraries is bound on its first call, and the many a run never calls are never bound (a
    // test loads them with LD_BIND_NOW=1, so that none can be missing). Local: its libraries stay
    // out of the global search list, which a module loaded later would otherwise walk for each of
    // its own symbols before its own libraries (see CMakeLists.txt on the modules' load order).
    if (dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL)) {
      g_loaded.insert(module);
      return;
    }
    why += (why.empty() ? " " : "; ") + std::string(dlerror());  // it names the path
  }
  throw std::runtime_error("cannot load " + module + " (it belongs beside the binary):" + why);
}

// Whether the type is registered already: loaded, or linked in (the test binaries link every type).
bool registered(std::string_view kind, std::string_view name) {
  if (kind == "source") return SourceRegistry::instance().find(name) != nullptr;
  if (kind == "sink") return SinkRegistry::instance().find(name) != nullptr;
  if (kind == "http_endpoint") return HttpEndpointRegistry::instance().find(name) != nullptr;
  return false;
}

class ModuleTypeLoader final : public TypeLoader {
 public:
  void load(std::string_view kind, std::string_view name) override { load_module_for(kind, name); }
  std::vector<std::string> names(std::string_view kind) const override { return module_type_names(kind); }
};

}  // namespace

void load_module_for(std::string_view kind, std::string_view name) {
  if (registered(kind, name)) return;
  if (const std::string module = module_of(kind, name); !module.empty()) load(module);
}

void load_all_modules() {
  for (std::size_t i = 0; i < kModuleTypeCount; ++i)
    if (!registered(kModuleTypes[i].kind, kModuleTypes[i].name)) load(kModuleTypes[i].module);
}

std::vector<std::string> module_type_names(std::string_view kind) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < kModuleTypeCount; ++i)
    if (kModuleTypes[i].kind == kind) names.emplace_back(kModuleTypes[i].name);
  return names;
}

std::string module_of(std::string_view kind, std::string_view name) {
  for (std::size_t i = 0; i < kModuleTypeCount; ++i)
    if (kModuleTypes[i].kind == kind && kModuleTypes[i].name == name) return kModuleTypes[i].module;
  return "";
}

void install_module_loader() {
  static ModuleTypeLoader loader;
  set_type_loader(&loader);
}

}  // namespace cvpipe
