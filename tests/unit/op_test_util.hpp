#pragma once
// Helpers for op tests: parse an op from YAML text as a pipeline config would, make deterministic
// frames, run an op the way the runner does, and compare frames. And for the conformance tests of
// ops, sources and sinks: one case per registered type, a whole document parsed as `run` parses
// it, a temporary folder.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe::test {

// "file:line:col: path: message" lines, one per error.
inline std::string errors_text(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

struct ParsedOp {
  std::optional<OpSpec> spec;       // set only when the YAML parsed without errors
  std::vector<ConfigError> errors;  // sorted by position
  std::string errors_text() const { return test::errors_text(errors); }
};

// Reads the first item of a YAML list such as "- op: canny\n  low: 10" as a pipeline does: "op"
// names a registered op whose parser reads the other keys; keys left over are errors.
inline ParsedOp parse_op(const std::string& yaml) {
  ParsedOp result;
  ConfigDiagnostics diag("test.yaml");
  const YAML::Node doc = YAML::Load(yaml);
  if (!doc.IsSequence() || doc.size() == 0) {
    ADD_FAILURE() << "not a YAML list: " << yaml;
    return result;
  }
  ConfigReader r(doc[0], "ops[0]", diag);
  const std::string name = r.required_string("op");
  const OpInfo* info = OpRegistry::instance().find(name);
  if (!info) {
    ADD_FAILURE() << "no op named \"" << name << "\"";
    return result;
  }
  OpSpec spec = info->parse(r);
  r.finish();
  result.errors = diag.sorted();
  if (diag.ok()) result.spec = std::move(spec);
  return result;
}

// Parses the op and returns its output format for `in`, or nullopt (with a test failure) when
// the YAML has errors.
inline std::optional<FormatResult> format_of(const std::string& yaml, const FrameFormat& in) {
  const ParsedOp parsed = parse_op(yaml);
  if (!parsed.spec) {
    ADD_FAILURE() << "unexpected errors:\n" << parsed.errors_text();
    return std::nullopt;
  }
  return parsed.spec->output_format(in);
}

inline FrameFormat format_of(const cv::Mat& m) { return {m.cols, m.rows, m.type()}; }

// Noise with flat shapes on it (edges, plateaus and texture), the same for the same arguments.
inline cv::Mat test_frame(int width, int height, int type, std::uint64_t seed = 1) {
  cv::Mat m(height, width, type);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  cv::rectangle(m, cv::Rect(width / 4, height / 4, width / 2, height / 2), cv::Scalar(200, 180, 160), cv::FILLED);
  cv::circle(m, {width / 2, height / 2}, std::min(width, height) / 5, cv::Scalar(30, 90, 150), cv::FILLED);
  return m;
}

// Runs the op once as the runner does: into a fresh output of its output format, or, for an
// in-place op, on a copy of `in` that is also the output. Returns the output (empty on failure,
// which is also reported).
inline cv::Mat run_op(const OpSpec& spec, const cv::Mat& in, FrameMeta meta = {}) {
  const FormatResult f = spec.output_format(format_of(in));
  if (!f.error.empty()) {
    ADD_FAILURE() << spec.name << " rejects " << format_of(in).describe() << ": " << f.error;
    return {};
  }
  cv::Mat out = spec.in_place ? in.clone() : cv::Mat(f.format.height, f.format.width, f.format.type);
  const std::unique_ptr<Op> op = spec.make();
  const Status opened = op->open();
  if (!opened) {
    ADD_FAILURE() << spec.name << " open failed: " << opened.message();
    return {};
  }
  const uchar* data = out.data;
  const Status s = op->process(spec.in_place ? out : in, out, meta);
  op->close();
  if (!s) {
    ADD_FAILURE() << spec.name << " process failed: " << s.message();
    return {};
  }
  if (out.data != data) {
    ADD_FAILURE() << spec.name << " reallocated its output";
    return {};
  }
  return out;
}

// Parses `yaml` and runs the op on `in`; an empty Mat (and a test failure) on errors.
inline cv::Mat run_op(const std::string& yaml, const cv::Mat& in, FrameMeta meta = {}) {
  const ParsedOp parsed = parse_op(yaml);
  if (!parsed.spec) {
    ADD_FAILURE() << "unexpected errors:\n" << parsed.errors_text();
    return {};
  }
  return run_op(*parsed.spec, in, meta);
}

// Same size, type and bytes.
inline ::testing::AssertionResult same_pixels(const cv::Mat& actual, const cv::Mat& expected) {
  if (actual.empty() || expected.empty())
    return ::testing::AssertionFailure() << "empty frame (actual " << actual.empty() << ", expected "
                                         << expected.empty() << ")";
  if (actual.size() != expected.size() || actual.type() != expected.type())
    return ::testing::AssertionFailure() << "format " << format_of(actual).describe() << " != "
                                         << format_of(expected).describe();
  const double diff = cv::norm(actual, expected, cv::NORM_INF);
  if (diff != 0) return ::testing::AssertionFailure() << "max difference " << diff;
  return ::testing::AssertionSuccess();
}

// ---- Conformance tests: one case per registered type ---------------------------------------------

// Every name in `registry`, hidden (test-only) entries included, sorted: the values of a
// conformance suite, ::testing::ValuesIn(all_names(...)). gtest evaluates them when it registers
// the suite's cases, in InitGoogleTest() (main), after static initialisation has filled the
// registry; instantiated_cases() lets a test check that it did.
template <class Info>
std::vector<std::string> all_names(const NamedRegistry<Info>& registry) {
  std::vector<std::string> names;
  for (const Info* info : registry.all(true)) names.push_back(info->name);
  return names;
}

// A type's name as a test name (`Ops/OpConformance.ExampleParsesWithoutErrors/gaussian_blur`):
// gtest takes letters, digits and '_' only, so anything else becomes '_'.
inline std::string case_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

// The parameter names of the cases gtest registered for `test` of the instantiated `suite`
// ("Ops/OpConformance", "ExampleParsesWithoutErrors"), whether a filter runs them or not.
inline std::set<std::string> instantiated_cases(std::string_view suite, std::string_view test) {
  std::set<std::string> names;
  const std::string prefix = std::string(test) + "/";
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& s = *unit.GetTestSuite(i);
    if (s.name() != suite) continue;
    for (int j = 0; j < s.total_test_count(); ++j) {
      const std::string name = s.GetTestInfo(j)->name();
      if (name.rfind(prefix, 0) == 0) names.insert(name.substr(prefix.size()));
    }
  }
  return names;
}

// What case_name() makes of every name of `registry`.
template <class Info>
std::set<std::string> case_names(const NamedRegistry<Info>& registry) {
  std::set<std::string> names;
  const std::vector<std::string> all = all_names(registry);
  for (std::size_t i = 0; i < all.size(); ++i) names.insert(case_name({all[i], i}));
  return names;
}

// A fresh folder under /tmp, removed with everything in it when this goes. Move-less: a test's own.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/cvpipe-test-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    else path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const noexcept { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct ParsedConfig {
  std::optional<PipelineConfig> config;  // set only when the document parsed without errors
  std::vector<ConfigError> errors;       // sorted by position
  std::string errors_text() const { return test::errors_text(errors); }
};

// Parses a whole document as `run` and `validate` do (nothing is opened), relative paths in it
// relative to `base_dir`.
inline ParsedConfig parse_document(const std::string& yaml, const std::string& base_dir) {
  ParsedConfig result;
  try {
    result.config = parse_config_text(yaml, "test.yaml", base_dir, {});
  } catch (const ConfigException& e) {
    result.errors = e.errors();
  }
  return result;
}

// `text` with every line indented by `spaces`, each line ending in a newline.
inline std::string indented(const std::string& text, int spaces) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += std::string(static_cast<std::size_t>(spaces), ' ') + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

// A mapping as block-style YAML text (comments are not kept).
inline std::string yaml_text(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

// ---- Sections of a source or a sink ----------------------------------------------------------------

// A type's example (a section's keys, as a document reads them) with `type: <name>`: a mapping, or
// an undefined node (and a test failure) when the example is not one.
inline YAML::Node example_section(const TypeInfo& info) {
  YAML::Node section;
  try {
    section = load_yaml_document(info.example);
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << info.name << "'s example is not YAML: " << e.what() << "\n" << info.example;
    return YAML::Node(YAML::NodeType::Undefined);
  }
  if (!section.IsMap()) {
    ADD_FAILURE() << info.name << "'s example is not a mapping:\n" << info.example;
    return YAML::Node(YAML::NodeType::Undefined);
  }
  section["type"] = info.name;
  return section;
}

// The keys a section uses but `type`, a nested section's by their path in it: url, reconnect.delay.
inline std::vector<std::string> key_paths(const YAML::Node& section, const std::string& prefix = "") {
  std::vector<std::string> keys;
  for (const auto& kv : section) {
    const std::string key = prefix + kv.first.Scalar();
    if (key == "type") continue;
    if (kv.second.IsMap()) {
      for (std::string& inner : key_paths(kv.second, key + ".")) keys.push_back(std::move(inner));
    } else {
      keys.push_back(key);
    }
  }
  return keys;
}

// The keys describe mode documents for `parse` (what `cvpipe ops`, `sources` and `sinks` list),
// each once, with a type; a test failure for each that is not.
template <class Spec>
std::set<std::string> documented_keys(const std::function<Spec(ConfigReader&)>& parse) {
  std::set<std::string> documented;
  std::vector<ParamDoc> docs;
  try {
    docs = describe_params([&](ConfigReader& r) { (void)parse(r); });
  } catch (const std::exception& e) {
    ADD_FAILURE() << "describe mode threw: " << e.what();
  }
  for (const ParamDoc& d : docs) {
    EXPECT_FALSE(d.type.empty()) << d.key;
    EXPECT_TRUE(documented.insert(d.key).second) << "documented twice: " << d.key;
  }
  return documented;
}

// A document: `before`, then `name:` with `section` and `extra` (lines "key: value") in it, then
// `after`. `extra_line` is set to the 1-based line of the first extra line.
inline std::string document_with_section(const std::string& before, const std::string& name,
                                         const YAML::Node& section, const std::vector<std::string>& extra,
                                         const std::string& after, int* extra_line = nullptr) {
  std::string text = before + name + ":\n" + indented(yaml_text(section), 2);
  if (extra_line) *extra_line = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const std::string& line : extra) text += "  " + line + "\n";
  return text + after;
}

// A whole document around a source's or a sink's section: `document(section, extra, &line)` puts
// `extra` lines ("key: value") into the section and sets `line` to the first one's line.
using SectionDocument = std::function<std::string(const YAML::Node&, const std::vector<std::string>&, int*)>;

// Every key of a type's example section is one its parse function documents in describe mode.
template <class Parse>
void expect_example_keys_documented(const YAML::Node& example, const Parse& parse) {
  ASSERT_TRUE(example.IsMap());
  const std::set<std::string> documented = documented_keys(parse);
  for (const std::string& key : key_paths(example))
    EXPECT_TRUE(documented.count(key)) << "example key not documented: " << key
                                       << " (documented: " << join(documented, ", ") << ")";
}

// What describe mode lists is what a user may write in the section (`cvpipe sources` shows it as
// such): every documented key, added to `section`, is accepted.
template <class Parse>
void expect_documented_keys_accepted(YAML::Node section, const Parse& parse, const std::string& base_dir,
                                     const SectionDocument& document) {
  ASSERT_TRUE(section.IsMap());
  const YAML::Node given = YAML::Clone(section);
  for (const std::string& key : documented_keys(parse)) {
    const std::size_t dot = key.find('.');
    const std::string outer = key.substr(0, dot);
    if (dot == std::string::npos) {
      if (!given[key]) section[key] = "1";
    } else if (!given[outer] || given[outer].IsMap()) {
      // A section's own line ("reconnect") was given a value above: its keys make it a mapping.
      if (!section[outer].IsMap()) section[outer] = YAML::Node(YAML::NodeType::Map);
      section[outer][key.substr(dot + 1)] = "1";
    }
  }
  const ParsedConfig parsed = parse_document(document(section, {}, nullptr), base_dir);
  for (const ConfigError& e : parsed.errors)
    EXPECT_EQ(e.message.find("unknown key"), std::string::npos) << "documented, but not a key: " << e.to_string();
}

// The conformance of a source's or a sink's section (`name`: "source", "sink"): a typo of its
// first plain key (its last letter doubled) and a key like no other, added to `section` through
// `document` and parsed in `base_dir`, are each an unknown key at its own line, the typo with
// "did you mean" the real key.
inline void expect_unknown_keys_reported(const YAML::Node& section, const std::string& name,
                                         const std::string& base_dir, const SectionDocument& document) {
  ASSERT_TRUE(section.IsMap());
  std::string real;
  for (const auto& kv : section)
    if (kv.first.Scalar() != "type" && !kv.second.IsMap()) {
      real = kv.first.Scalar();
      break;
    }
  std::vector<std::string> extra;
  if (!real.empty()) extra.push_back(real + real.back() + ": 1");
  extra.push_back("zz_not_a_key: 1");
  int line = 0;
  const ParsedConfig parsed = parse_document(document(section, extra, &line), base_dir);
  ASSERT_EQ(parsed.errors.size(), extra.size()) << parsed.errors_text();
  if (!real.empty()) {
    const ConfigError& typo = parsed.errors[0];
    EXPECT_EQ(typo.path, name + "." + real + real.back());
    EXPECT_EQ(typo.line, line);
    EXPECT_NE(typo.message.find("unknown key"), std::string::npos) << typo.to_string();
    EXPECT_NE(typo.message.find("did you mean \"" + real + "\""), std::string::npos) << typo.to_string();
    ++line;
  }
  const ConfigError& unknown = parsed.errors.back();
  EXPECT_EQ(unknown.path, name + ".zz_not_a_key");
  EXPECT_EQ(unknown.line, line);
  EXPECT_NE(unknown.message.find("unknown key"), std::string::npos) << unknown.to_string();
}

// A type is registered from its own file, <name>_<kind>.cpp, in a folder of pipeline/modules/.
inline void expect_registered_from_own_file(const TypeInfo& info, const std::string& kind) {
  const std::string file = info.file;
  EXPECT_NE(file.find("pipeline/modules/"), std::string::npos) << file;
  const std::string own = "/" + info.name + "_" + kind + ".cpp";
  EXPECT_TRUE(file.size() > own.size() && file.compare(file.size() - own.size(), own.size(), own) == 0)
      << file << " is not <module folder>" << own;
}

}  // namespace cvpipe::test
