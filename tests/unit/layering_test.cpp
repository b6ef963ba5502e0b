// The layer rule (docs/architecture.md): from the bottom, core, config, ops, runtime, the modules,
// app. A file includes only from its own layer or those below it; a module only from itself and the
// layers below; the libraries that only the daemon may load (OpenCV's videoio and imgcodecs, FFmpeg)
// only in the modules that link them; core and config know nothing of OpenCV.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace cvpipe {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, int> kRank = {{"core", 0}, {"config", 1}, {"ops", 2}, {"runtime", 3}, {"modules", 4}};

struct Include {
  std::string file;  // relative to the source tree
  int line;
  std::string target;
  bool quoted;  // "..." (the project's own) rather than <...>
};

// pipeline/<layer>/..., or app/..., with the module's folder for pipeline/modules/<module>/.
struct Place {
  std::string layer;  // "core" ... "modules", "app", or "" (outside)
  std::string module;
};

Place place_of(const std::string& path) {
  if (path.rfind("app/", 0) == 0) return {"app", ""};
  if (path.rfind("pipeline/", 0) != 0) return {"", ""};
  const std::string rest = path.substr(9);
  const std::string layer = rest.substr(0, rest.find('/'));
  if (layer != "modules") return {layer, ""};
  const std::string after = rest.substr(8);
  return {layer, after.substr(0, after.find('/'))};
}

std::vector<Include> includes_of_the_tree() {
  const fs::path root = CVPIPE_SOURCE_DIR;
  const std::regex include(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
  std::vector<Include> out;
  for (const char* top : {"pipeline", "app"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp" && ext != ".in")) continue;
      std::ifstream in(entry.path());
      std::string text;
      int number = 0;
      for (std::string line; std::getline(in, line);) {
        ++number;
        std::smatch m;
        if (std::regex_search(line, m, include))
          out.push_back({fs::relative(entry.path(), root).string(), number, m[2].str(), m[1].str() == "\""});
      }
    }
  }
  return out;
}

std::string where(const Include& i) { return i.file + ":" + std::to_string(i.line) + " includes " + i.target; }

TEST(Layering, TheTreeIsScanned) {
  const auto includes = includes_of_the_tree();
  EXPECT_GT(includes.size(), 300u);
  std::set<std::string> files;
  for (const auto& i : includes) files.insert(i.file);
  EXPECT_GT(files.size(), 80u);
}

TEST(Layering, NoFileIncludesFromALayerAboveItsOwn) {
  for (const Include& i : includes_of_the_tree()) {
    if (!i.quoted || i.target.rfind("pipeline/", 0) != 0) continue;
    const Place from = place_of(i.file), to = place_of(i.target);
    ASSERT_TRUE(kRank.count(to.layer)) << where(i) << ": no such layer";
    if (from.layer == "app") continue;  // the top: it may include anything
    ASSERT_TRUE(kRank.count(from.layer)) << i.file << ": a file outside the layers";
    EXPECT_LE(kRank.at(to.layer), kRank.at(from.layer))
        << where(i) << ": " << from.layer << " may not include from " << to.layer << ", a layer above it";
    if (from.layer == "modules" && to.layer == "modules") {
      EXPECT_EQ(to.module, from.module) << where(i) << ": a module includes only from itself";
    }
  }
}

TEST(Layering, CoreAndConfigKnowNothingOfOpenCv) {
  for (const Include& i : includes_of_the_tree()) {
    const std::string layer = place_of(i.file).layer;
    if (layer == "core" || layer == "config") {
      EXPECT_NE(i.target.rfind("opencv2/", 0), 0u) << where(i);
    }
  }
}

TEST(Layering, TheDaemonsHeavyLibrariesAreIncludedOnlyInTheirModules) {
  // What worker processes must never load: only the modules the daemon dlopen()s link them.
  const std::vector<std::pair<std::string, std::vector<std::string>>> heavy = {
      {"opencv2/videoio", {"io"}}, {"opencv2/imgcodecs", {"io"}}, {"libavformat/", {"av", "io"}},
      {"libavcodec/", {"av", "io"}}, {"libswscale/", {"av"}}, {"libavutil/", {"av", "io"}}};
  for (const Include& i : includes_of_the_tree()) {
    const Place from = place_of(i.file);
    for (const auto& [library, modules] : heavy) {
      if (i.target.rfind(library, 0) != 0) continue;
      EXPECT_TRUE(from.layer == "modules" && std::find(modules.begin(), modules.end(), from.module) != modules.end())
          << where(i) << ": only the modules that link it may include it";
    }
  }
}

}  // namespace
}  // namespace cvpipe
