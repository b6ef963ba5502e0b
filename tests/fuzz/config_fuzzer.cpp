// config_fuzzer: libFuzzer over the config loader, exactly as `cvpipe validate` drives it.
//
// The input is YAML text given to parse_config_text(). Lines that start with "#set " (at most
// three; YAML reads them as comments) are also passed as --set overrides, so one input mutates the
// document and the command line together:
//
//   source: {type: synthetic, width: 64, height: 48}
//   ...
//   #set stages.edges.workers=3
//
// A ConfigException is the expected answer to a bad config. Anything else is a finding: a crash,
// a sanitizer report (ASan, UBSan, LeakSanitizer), a hang (-timeout), or an exception of another
// type escaping the loader (the daemon would report it as an internal error, exit 70, not 78).
//
// When a document parses, the fuzzer also checks what the daemon does with it next:
//   - resolve() for `synthetic` sources (formats, frame sizes, the shared-memory check). Never for
//     `file`, `url` or `camera`: that would open arbitrary paths, streams or devices. A synthetic
//     frame larger than 640x480 is replaced by a stub source of the same format, so the size
//     checks still run but the fuzzer does not spend its time drawing 8K backgrounds;
//   - every stage's ops read back from the resolved document (what a worker process reads);
//   - plan_reload() between the document without and with its overrides (what SIGHUP does).
// `cvpipe ops` (describe mode over every op) runs once at start-up.
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/config/reload.hpp"
#include "pipeline/ops/op_registry.hpp"
#include "pipeline/runtime/pipeline_loader.hpp"

namespace cvpipe {
namespace {

constexpr std::size_t kMaxOverrides = 3;
constexpr std::int64_t kMaxRealSyntheticPixels = 640 * 480;

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "config_fuzzer: %s\n", what.c_str());
  std::abort();
}

// A folder holding the files relative paths in the seeds name, so `type: file` configs get past
// "no such file" and reach the rest of the checks. Nothing in it is ever opened.
std::string make_base_dir() {
  char pattern[] = "/tmp/cvpipe-fuzz-XXXXXX";
  const char* dir = ::mkdtemp(pattern);
  if (!dir) finding("mkdtemp failed");
  for (const char* name : {"clip.mkv", "clip.mp4"}) std::ofstream(std::string(dir) + "/" + name).put('\0');
  std::filesystem::create_directory(std::string(dir) + "/folder");
  return dir;
}

const std::string& base_dir() {
  static const std::string dir = make_base_dir();
  return dir;
}

void remove_base_dir() {
  std::error_code ec;
  std::filesystem::remove_all(base_dir(), ec);
}

// `cvpipe ops`: every op's parser in describe mode.
void describe_every_op() {
  for (const OpInfo* op : OpRegistry::instance().all(true)) {
    ConfigDiagnostics diag("(describe)");
    diag.start_describing();
    ConfigReader reader(YAML::Node(YAML::NodeType::Map), "", diag);
    (void)op->parse(reader);
    if (!diag.ok()) finding("describe mode reported an error for op " + op->name);
  }
}

std::vector<std::string> overrides_in(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size() && out.size() < kMaxOverrides) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    if (line.substr(0, 5) == "#set ") out.emplace_back(line.substr(5));
    start = end + 1;
  }
  return out;
}

// A value the loader has already validated as an integer, read back from the resolved document.
std::int64_t integer_in(const YAML::Node& map, const char* key, std::int64_t fallback) {
  const YAML::Node n = map[key];
  if (!n || !n.IsScalar()) return fallback;
  std::int64_t v = fallback;
  const std::string& s = n.Scalar();
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// The format of a synthetic source, without drawing its frames.
class StubSource final : public Source {
 public:
  explicit StubSource(FrameFormat format) : format_(format) {}
  FrameFormat format() const override { return format_; }
  double fps() const override { return 30; }
  Read read(cv::Mat&, FrameMeta&, std::string&) override { return Read::kEnd; }

 private:
  FrameFormat format_;
};

void check_resolve(PipelineConfig& config) {
  const YAML::Node source = YAML::Load(config.resolved_yaml)["source"];
  const std::int64_t width = integer_in(source, "width", 640), height = integer_in(source, "height", 480);
  if (width * height > kMaxRealSyntheticPixels) {
    const FrameFormat format{static_cast<int>(width), static_cast<int>(height), CV_8UC3};
    config.source.open = [format](const SourceLimits&) -> std::unique_ptr<Source> {
      return std::make_unique<StubSource>(format);
    };
  }
  try {
    (void)resolve(config);
  } catch (const ConfigException&) {
    return;
  }
  // What resolve() accepted must fit in half of this machine's memory (daemon.cpp sizes the
  // segment from these numbers).
  const double segment = static_cast<double>(config.slots) * config.buffers_per_slot *
                         static_cast<double>(config.frame_bytes);
  const double physical = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (config.frame_bytes == 0 || segment > physical / 2)
    finding("resolve() accepted a segment of " + std::to_string(segment) + " bytes");
}

// A worker reads its stage's ops from the resolved document: it must read what the daemon read.
void check_workers_read_the_same_ops(const PipelineConfig& config) {
  for (std::size_t i = 0; i < config.stages.size(); ++i) {
    std::vector<OpEntry> ops;
    try {
      ops = parse_stage_ops(config.resolved_yaml, i, base_dir());
    } catch (const ConfigException& e) {
      finding("stage " + std::to_string(i) + " of the resolved document does not parse: " + e.what() +
              "\n--- resolved document:\n" + config.resolved_yaml);
    }
    const auto& expected = config.stages[i].ops;
    bool same = ops.size() == expected.size();
    for (std::size_t j = 0; same && j < ops.size(); ++j) same = ops[j].spec.name == expected[j].spec.name;
    if (!same) finding("stage " + std::to_string(i) + " reads other ops from the resolved document");
  }
}

void fuzz_one(const std::string& text) {
  const std::vector<std::string> overrides = overrides_in(text);
  PipelineConfig config;
  try {
    config = parse_config_text(text, "fuzz.yaml", base_dir(), overrides);
  } catch (const ConfigException& e) {
    if (e.errors().empty()) finding("ConfigException without an error");
    for (const ConfigError& error : e.errors()) (void)error.to_string();
    return;
  }
  check_workers_read_the_same_ops(config);

  if (!overrides.empty()) {
    try {
      const PipelineConfig before = parse_config_text(text, "fuzz.yaml", base_dir(), {});
      const ReloadPlan plan = plan_reload(before, config);
      if (plan.workers.size() != before.stages.size()) finding("plan_reload() lost a stage");
    } catch (const ConfigException&) {
      // Only the overrides made it valid.
    }
  }

  if (config.source.type == "synthetic") check_resolve(config);
}

}  // namespace
}  // namespace cvpipe

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cvpipe::describe_every_op();
  (void)cvpipe::base_dir();
  std::atexit(cvpipe::remove_base_dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cvpipe::fuzz_one(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
