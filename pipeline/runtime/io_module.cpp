#include "pipeline/runtime/io_module.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/sinks/sink.hpp"
#include "pipeline/sources/source.hpp"

namespace cvpipe {
namespace {

struct ModuleType {
  ModuleEntry entry;
  std::string_view type;
  const char* module;
  const char* what;  // for the error when it cannot be loaded
};

// Which module holds which type. The test ModuleTable.NamesEveryTypeOutsideTheDaemon checks it
// against the types registered, and Modules.ARunLoadsOnlyTheModulesItsConfigNames what each
// run loads.
constexpr ModuleType kModuleTypes[] = {
    {ModuleEntry::kSource, "file", "cvpipe-av.so", "the file source"},
    {ModuleEntry::kSource, "camera", "cvpipe-io.so", "the camera source"},
    {ModuleEntry::kSource, "url", "cvpipe-io.so", "the url source"},
    {ModuleEntry::kSink, "video", "cvpipe-io.so", "the video sink"},
    {ModuleEntry::kSink, "images", "cvpipe-io.so", "the images sink"},
    {ModuleEntry::kHttp, "", "cvpipe-io.so", "the HTTP endpoint"},
};

std::mutex g_mutex;
std::set<std::string> g_loaded;

void load(const char* module, const char* what) {
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
    // Never unloaded: the registries keep pointers into it. Lazily bound: its libraries resolve
    // a function on its first call instead of all of them here, which takes ~10 ms off the
    // start-up (a test loads them with LD_BIND_NOW=1, so that none can be missing). Local: its
    // libraries stay out of the global search list, which a module loaded later (cvpipe-io.so
    // after cvpipe-av.so) would otherwise walk for each of its symbols before its own order.
    if (dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL)) {
      g_loaded.insert(module);
      return;
    }
    why += (why.empty() ? " " : "; ") + std::string(dlerror());  // it names the path
  }
  throw std::runtime_error(std::string("cannot load ") + module + ", " + what + " (it belongs beside the binary):" + why);
}

}  // namespace

void load_module_for(ModuleEntry entry, std::string_view type) {
  for (const ModuleType& m : kModuleTypes)
    if (m.entry == entry && (entry == ModuleEntry::kHttp || m.type == type)) return load(m.module, m.what);
}

void load_all_modules() {
  for (const ModuleType& m : kModuleTypes) {
    // Those linked in (the test binaries link every type) need no module; the HTTP endpoint's
    // module is the one of types listed too.
    const bool here = m.entry == ModuleEntry::kSource ? SourceRegistry::instance().find(m.type) != nullptr
                      : m.entry == ModuleEntry::kSink ? SinkRegistry::instance().find(m.type) != nullptr
                                                      : true;
    if (!here) load(m.module, m.what);
  }
}

std::vector<std::string> module_type_names(ModuleEntry entry) {
  std::vector<std::string> names;
  for (const ModuleType& m : kModuleTypes)
    if (m.entry == entry) names.emplace_back(m.type);
  return names;
}

}  // namespace cvpipe
