// The daemon's table of which module holds which source and sink type (io_module.cpp): a type
// missing from it would be "unknown" to the daemon, though the module registers it.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "pipeline/config/pipeline_config.hpp"
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

// Where every type is linked in, an unknown one is a config error listing them all; no module is
// looked for (there is none beside this binary).
TEST(ModuleTable, AnUnknownTypeWithEveryTypeLinkedInIsAConfigError) {
  try {
    (void)parse_config_text("source: {type: fil, path: x.mp4}\nstages: [{name: s, ops: [{op: identity}]}]\n"
                            "sink: {type: \"null\"}\n",
                            "t.yaml", "", {});
    FAIL() << "no error";
  } catch (const ConfigException& e) {
    ASSERT_EQ(e.errors().size(), 1u);
    const std::string text = e.errors()[0].to_string();
    EXPECT_NE(text.find("known types: camera, file, synthetic, url"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace cvpipe
