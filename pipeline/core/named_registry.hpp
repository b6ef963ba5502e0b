#pragma once
// NamedRegistry<Info>: the table of self-registering entries (ops, sources, sinks), keyed by
// Info::name. Entries are added during static initialisation only; after main() starts the
// registry is read-only, so lookups from any thread are safe. Info needs `name` and `hidden`.
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

  void add(Info info) {
    if (find(info.name)) throw std::logic_error("registered twice: " + info.name);
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

}  // namespace cvpipe
