// The daemon's table of which module holds which source and sink type (io_module.cpp): a type
// missing from it would be "unknown" to the daemon, though the module registers it.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "pipeline/runtime/io_module.hpp"
#include "pipeline/sinks/sink.hpp"
#include "pipeline/sources/source.hpp"

namespace cvpipe {
namespace {

// This binary links every type in; those outside the module table are the daemon's own.
template <class Registry>
std::set<std::string> registered_outside(const Registry& registry, ModuleEntry entry) {
  std::set<std::string> names;
  for (const auto* info : registry.all()) names.insert(info->name);
  for (const std::string& in_module : module_type_names(entry)) {
    EXPECT_TRUE(names.count(in_module)) << in_module << " is in the module table but no module registers it";
    names.erase(in_module);
  }
  return names;
}

TEST(ModuleTable, NamesEveryTypeOutsideTheDaemon) {
  EXPECT_EQ(registered_outside(SourceRegistry::instance(), ModuleEntry::kSource), std::set<std::string>{"synthetic"});
  EXPECT_EQ(registered_outside(SinkRegistry::instance(), ModuleEntry::kSink), std::set<std::string>{"null"});
}

}  // namespace
}  // namespace cvpipe
