#pragma once
// NamedRegistry<Info>: a table of self-registering entries keyed by Info::name, and
// CVPIPE_REGISTER, the one way anything registers itself (op, source and sink types, the HTTP
// endpoint). Entries are added during static initialisation: of the binary before main(), of a
// module while dlopen() loads it, on the thread that loads it and before anything looks its types
// up. Otherwise the registry is only read, so lookups from any thread are safe.
//
// Info needs `name`, `hidden` (test-only entries, left out of listings) and `file` (set from the
// registering file's __FILE__: which folder, and so which module, holds the entry).
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cvpipe {

template <class Info>
class NamedRegistry {
 public:
  static NamedRegistry& instance() {
    static NamedRegistry registry;
    return registry;
  }

  void add(Info info, const char* file) {
    if (find(info.name)) throw std::logic_error("registered twice: " + info.name);
    info.file = file;
    entries_.push_back(std::make_unique<Info>(std::move(info)));
  }

  const Info* find(std::string_view name) const {
    for (const auto& e : entries_)
      if (e->name == name) return e.get();
    return nullptr;
  }

  // Sorted by name; hidden entries (for tests only) on request.
  std::vector<const Info*> all(bool include_hidden = false) const {
    std::vector<const Info*> out;
    for (const auto& e : entries_)
      if (include_hidden || !e->hidden) out.push_back(e.get());
    std::sort(out.begin(), out.end(), [](const Info* a, const Info* b) { return a->name < b->name; });
    return out;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const Info* e : all()) out.push_back(e->name);
    return out;
  }

 private:
  std::vector<std::unique_ptr<Info>> entries_;
};

#define CVPIPE_REGISTER_CONCAT_INNER(a, b) a##b
#define CVPIPE_REGISTER_CONCAT(a, b) CVPIPE_REGISTER_CONCAT_INNER(a, b)

// Adds the Info that the expression after `id` makes to `Registry` (a NamedRegistry type) before
// main() starts, or when the module that holds it loads. `id` names the variable that does it,
// unique within the file. The per-kind macros (CVPIPE_REGISTER_OP, _SOURCE, _SINK,
// _HTTP_ENDPOINT) are this with their Info filled in; the build reads their first two arguments,
// the id and the quoted name, to know which module holds which type (pipeline/modules/).
#define CVPIPE_REGISTER(Registry, id, ...)                                                            \
  namespace {                                                                                         \
  [[maybe_unused]] const bool CVPIPE_REGISTER_CONCAT(kRegistered, id) =                               \
      (Registry::instance().add(__VA_ARGS__, __FILE__), true);                                        \
  }

}  // namespace cvpipe
