#include "pipeline/runtime/io_module.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "pipeline/sources/source.hpp"

namespace cvpipe {

void load_io_module() {
  // Already there: loaded before, or linked in (the test binaries link the types directly).
  if (SourceRegistry::instance().find("file")) return;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("CVPIPE_IO_MODULE")) {
    candidates.push_back(env);
  } else {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    candidates.push_back((exe.parent_path() / "cvpipe-io.so").string());
    candidates.push_back((exe.parent_path().parent_path() / "lib/cvpipe/cvpipe-io.so").string());
  }
  std::string why;
  for (const auto& path : candidates) {
    // Never unloaded: the registries keep pointers into it. Lazily bound: its ~250 libraries
    // resolve a function on its first call instead of all of them here, which takes ~10 ms off
    // the start-up. A test loads it with LD_BIND_NOW=1, so that none can be missing.
    if (dlopen(path.c_str(), RTLD_LAZY | RTLD_GLOBAL)) return;
    why += (why.empty() ? " " : "; ") + path + ": " + dlerror();
  }
  throw std::runtime_error("cannot load cvpipe-io.so, the video and image sources and sinks (it belongs beside the "
                           "binary):" + why);
}

}  // namespace cvpipe
