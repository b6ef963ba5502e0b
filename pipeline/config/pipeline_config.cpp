#include "pipeline/config/pipeline_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "pipeline/config/catalog.hpp"
#include "pipeline/core/secrets.hpp"
#include "pipeline/core/small_file.hpp"

namespace cvpipe {

const std::initializer_list<std::string_view> kLogLevels = {"trace", "debug", "info", "warn", "error", "off"};
const std::initializer_list<std::string_view> kDropPolicies = {"block", "drop_oldest", "drop_newest"};

const char* drop_policy_name(DropPolicy p) { return kDropPolicies.begin()[static_cast<int>(p)].data(); }

namespace {

// Files default to block (nothing is ever lost); live sources to drop_oldest (latency stays bounded).
DropPolicy read_drop_policy(ConfigReader& r, bool live) {
  const std::string word = r.choice("drop_policy", live ? "drop_oldest" : "block", kDropPolicies);
  for (std::size_t i = 0; i < kDropPolicies.size(); ++i)
    if (kDropPolicies.begin()[i] == word) return static_cast<DropPolicy>(i);
  return DropPolicy::kBlock;
}

// Letters, digits, _ and -. (Not std::regex: libstdc++ matches it recursively, one stack frame
// per character, and a name of 50,000 characters overflowed the stack.)
bool is_stage_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// What to look at for yaml-cpp's structural errors, which name the parser's state, not the mistake
// (mostly indentation); "" when there is nothing to add.
std::string yaml_hint(const YAML::Exception& e, const std::string& text) {
  // The line the error points at, for a tab in its indentation.
  std::size_t start = 0;
  for (int line = 0; line < e.mark.line && start != std::string::npos; ++line) {
    start = text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  if (start != std::string::npos && e.mark.line >= 0) {
    const std::size_t end = text.find_first_not_of(" \t", start);
    if (text.substr(start, end == std::string::npos ? std::string::npos : end - start).find('\t') != std::string::npos)
      return " (this line is indented with a tab: YAML indents with spaces)";
  }
  if (e.msg == YAML::ErrorMsg::MAP_VALUE)
    return " (a key where none may be: is this line indented more than the key above it? A value that "
           "holds \": \" must be quoted)";
  if (e.msg == YAML::ErrorMsg::END_OF_MAP)
    return " (this line is indented less than the keys above it, but more than their parent: the keys "
           "of one mapping start in one column)";
  if (e.msg == YAML::ErrorMsg::END_OF_SEQ)
    return " (the keys of a list item start in the column of its first key, after \"- \")";
  if (e.msg == YAML::ErrorMsg::END_OF_MAP_FLOW || e.msg == YAML::ErrorMsg::END_OF_SEQ_FLOW)
    return " (a { or [ before this is not closed)";
  return "";
}

// The document, or undefined when it is not YAML. A second document is an error, not ignored.
YAML::Node load_yaml(const std::string& text, ConfigDiagnostics& diag) {
  try {
    YAML::Node root = load_yaml_document(text);
    if (const auto second = second_document_start(text))
      diag.add(*second, "", "a config file holds one YAML document; a second one starts here");
    return root;
  } catch (const YAML::Exception& e) {
    diag.add(e.mark, "", "invalid YAML: " + e.msg + yaml_hint(e, text));
    return YAML::Node(YAML::NodeType::Undefined);
  }
}

// One segment of a --set path: a mapping key, a list item by index or name (`stages.1`,
// `stages.edges`), or a list index written in brackets (`stages[1]`), as errors print paths.
struct PathSegment {
  std::string text;
  bool bracketed = false;  // [N]: must select an item of a list
};

// Splits `stages[1].ops.0.ksize` into stages, [1], ops, 0, ksize. Returns "" or what is wrong.
std::string split_override_path(const std::string& key_path, std::vector<PathSegment>& segments) {
  const std::string bad = "bad list index in \"" + key_path + "\": ";
  const std::string hint = " (write stages.1.workers or stages[1].workers)";
  std::size_t i = 0;
  while (true) {
    const std::size_t end = key_path.find_first_of(".[", i);
    const std::string key = key_path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (key.empty()) return "empty key in \"" + key_path + "\"";
    segments.push_back({key, false});
    if (end == std::string::npos) return "";
    i = end;
    // Any number of [N] (a list of lists takes two), then "." or the end.
    while (key_path[i] == '[') {
      const std::size_t close = key_path.find_first_of("].[", i + 1);
      if (close == std::string::npos || key_path[close] != ']') return bad + "\"[\" is not closed" + hint;
      const std::string index = key_path.substr(i + 1, close - i - 1);
      if (index.empty() || !std::all_of(index.begin(), index.end(), ::isdigit))
        return bad + "\"[" + index + "]\" is not a number" + hint;
      segments.push_back({index, true});
      i = close + 1;
      if (i == key_path.size()) return "";
    }
    if (key_path[i] != '.') return bad + "expected \".\" or \"[\" after \"]\"" + hint;
    ++i;
  }
}

// Applies one --set override to the document. Path segments select mapping keys, list indices
// (stages.1, stages[1]), or list items by their `name` (stages.edges.workers). Records the
// canonical path so errors about the new value point at the command line.
// The file's value at `node` as one line of YAML, for a log line.
std::string file_value_of(const YAML::Node& node) {
  if (!node.IsDefined()) return "(not in the file)";
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

void apply_override(YAML::Node root, const std::string& assignment, ConfigDiagnostics& diag,
                    std::vector<PipelineConfig::Pinned>& pinned) {
  const std::string origin = "--set " + assignment;
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    diag.add_override_error(origin, "expected KEY.PATH=VALUE, e.g. stages.edges.workers=3");
    return;
  }
  const std::string key_path = assignment.substr(0, eq);
  YAML::Node value;
  try {
    // `sink.type=null` means the word, as `type: null` does in the file; `x=` and `x=~` are null.
    value = load_yaml_document(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    diag.add_override_error(origin, "invalid YAML value: " + e.msg);
    return;
  }
  std::vector<PathSegment> segments;
  if (const std::string error = split_override_path(key_path, segments); !error.empty()) {
    diag.add_override_error(origin, error);
    return;
  }

  YAML::Node node = root;
  std::string canonical;
  const auto here = [&canonical] { return canonical.empty() ? std::string("the document") : canonical; };
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& seg = segments[i].text;
    const bool last = i + 1 == segments.size();
    if (segments[i].bracketed && !node.IsSequence()) {
      diag.add_override_error(origin, "[" + seg + "] selects a list item, but " + here() + " is not a list");
      return;
    }
    if (node.IsSequence()) {
      // An item's `name`, if it has one (a stage's, say).
      const auto name_of = [&node](std::size_t j) -> std::optional<std::string> {
        if (node[j].IsMap() && node[j]["name"] && node[j]["name"].IsScalar()) return node[j]["name"].Scalar();
        return std::nullopt;
      };
      // For an error: the names there are to choose from.
      const auto names_text = [&] {
        std::vector<std::string> names;
        for (std::size_t j = 0; j < node.size(); ++j)
          if (auto name = name_of(j)) names.push_back(std::move(*name));
        return names.empty() ? std::string() : " (names: " + join(names, ", ") + ")";
      };
      std::size_t index = node.size();
      if (std::all_of(seg.begin(), seg.end(), ::isdigit)) {
        const auto [end, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), index);
        if (ec != std::errc() || index >= node.size()) {
          const std::size_t n = node.size();
          const std::string count = n == 0   ? "no items"
                                    : n == 1 ? "1 item, index 0"
                                             : std::to_string(n) + " items, 0 to " + std::to_string(n - 1);
          diag.add_override_error(origin, "index " + seg + " is out of range: " + here() + " has " + count + names_text());
          return;
        }
      } else {
        for (std::size_t j = 0; j < node.size(); ++j)
          if (name_of(j) == seg) index = j;
        if (index >= node.size()) {
          diag.add_override_error(origin, "no item \"" + seg + "\" in " + here() + names_text());
          return;
        }
      }
      canonical += "[" + std::to_string(index) + "]";
      if (last) {
        pinned.push_back({canonical, origin, file_value_of(node[index])});
        node[index] = value;
      } else {
        node.reset(node[index]);
      }
      continue;
    }
    if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
      diag.add_override_error(origin, here() + " is not a mapping");
      return;
    }
    canonical += (canonical.empty() ? "" : ".") + seg;
    if (last) {
      pinned.push_back({canonical, origin, node.IsMap() ? file_value_of(node[seg]) : "(not in the file)"});
      node[seg] = value;
    } else {
      YAML::Node child = node[seg];
      if (!child.IsDefined() || child.IsNull()) {
        node[seg] = YAML::Node(YAML::NodeType::Map);
        child = node[seg];
        diag.add_override(canonical, origin);  // made by this --set: errors about it name the --set
      }
      node.reset(child);
    }
  }
  diag.add_override(canonical, origin);
}

// A value written `!env NAME` (an environment variable's) or `!file PATH` (a file's content, one
// trailing newline left out; relative to the config's folder): how a secret stays out of the
// config file, so that a Kubernetes Secret or a Compose secret can hold it. Replaced in the
// document by the value (a string, as if quoted); `secret_paths` gets each such key's path, and
// nothing shows the value (shown_document()).
constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;

// Calls fn(child, its key path) for each value of a mapping (with a scalar key) or item of a list.
template <class Fn>
void for_each_child(YAML::Node node, const std::string& path, Fn&& fn) {
  if (node.IsMap()) {
    for (auto kv : node)
      if (kv.first.IsScalar()) fn(kv.second, path.empty() ? kv.first.Scalar() : path + "." + kv.first.Scalar());
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) fn(node[i], path + "[" + std::to_string(i) + "]");
  }
}
constexpr std::size_t kMaxConfigFileBytes = 1 << 20;  // a config is a few KiB

void resolve_secret_tags(YAML::Node node, const std::string& path, ConfigDiagnostics& diag,
                         std::set<std::string>& secret_paths) {
  const std::string& tag = node.Tag();
  if (tag == "!env" || tag == "!file") {
    const std::string what = tag == "!env" ? "an environment variable's name" : "a file's path";
    if (!node.IsScalar() || node.Scalar().empty()) {
      diag.add(node.Mark(), path, tag + " takes " + what + ", e.g. " + (tag == "!env" ? "!env CAMERA_URL" : "!file /run/secrets/camera-url"));
      return;
    }
    std::string value;
    if (tag == "!env") {
      const char* env = std::getenv(node.Scalar().c_str());
      if (!env) {
        diag.add(node.Mark(), path, "the environment variable " + node.Scalar() + " (!env) is not set");
        return;
      }
      value = env;
    } else {
      std::string file = node.Scalar();
      if (file[0] != '/' && !diag.base_dir().empty()) file = (std::filesystem::path(diag.base_dir()) / file).string();
      if (const std::string why = read_small_file(file, kMaxSecretFileBytes, value); !why.empty()) {
        diag.add(node.Mark(), path, "cannot read the secret file " + file + " (!file): " + why);
        return;
      }
      if (!value.empty() && value.back() == '\n') value.pop_back();
      if (!value.empty() && value.back() == '\r') value.pop_back();
    }
    node = value;
    node.SetTag("!");  // a string, whatever it spells
    secret_paths.insert(path);
    return;
  }
  for_each_child(node, path, [&](YAML::Node child, const std::string& at) {
    resolve_secret_tags(child, at, diag, secret_paths);
  });
}

// The document as cvpipe shows it (the HTTP endpoint, what workers read): every secret value
// hidden, and the credentials of every URL masked (core/secrets.hpp).
void hide_secrets(YAML::Node node, const std::string& path, const std::set<std::string>& secret_paths) {
  if (node.IsScalar()) {
    if (secret_paths.count(path)) node = std::string("***");
    else if (node.Scalar().find("://") != std::string::npos) node = mask_url(node.Scalar());
    return;
  }
  for_each_child(node, path, [&](YAML::Node child, const std::string& at) { hide_secrets(child, at, secret_paths); });
}

std::string shown_document(const YAML::Node& root, const std::set<std::string>& secret_paths) {
  YAML::Node copy = YAML::Clone(root);
  hide_secrets(copy, "", secret_paths);
  return YAML::Dump(copy);
}

// The ops of a stage. `parsed` is how many of them, from the first, parsed without an error: the
// formats through those are known.
std::vector<OpEntry> read_ops(ConfigReader& stage, std::size_t& parsed) {
  std::vector<OpEntry> ops;
  parsed = 0;
  bool all_parsed = true;
  const std::size_t errors_before = stage.diagnostics().count();
  const auto items = stage.map_list("ops", true);
  if (items.empty() && stage.diagnostics().count() == errors_before) stage.fail("ops", "expected at least one op");
  for (auto item : items) {
    const std::string name = item.required_string("op");
    if (name.empty()) {
      all_parsed = false;
      continue;
    }
    std::vector<std::string> known;
    const OpInfo* info = find_type(OpRegistry::instance(), "op", name, known);
    if (!info) {
      std::string message = "unknown op \"" + name + "\"";
      if (auto near = closest_match(name, known); !near.empty()) message += " (did you mean \"" + near + "\"?)";
      message += "; known ops: " + join(known, ", ");
      item.fail("op", message);
      all_parsed = false;
      continue;
    }
    OpEntry entry;
    entry.spec = info->parse(item);
    entry.path = item.path();
    entry.mark = item.mark();
    item.finish();
    // Its own errors include a duplicate key, found when `items` were made.
    all_parsed = all_parsed && !stage.diagnostics().has_errors_under(entry.path);
    if (all_parsed) ++parsed;
    ops.push_back(std::move(entry));
  }
  return ops;
}

template <class Info>
const Info* read_type(ConfigReader& r, const NamedRegistry<Info>& registry, std::string_view kind) {
  const std::string type = r.required_string("type");
  if (type.empty()) return nullptr;
  std::vector<std::string> known;
  const Info* info = find_type(registry, kind, type, known);
  if (!info) {
    std::string message = "unknown " + std::string(kind) + " type \"" + type + "\"";
    if (auto near = closest_match(type, known); !near.empty()) message += " (did you mean \"" + near + "\"?)";
    r.fail("type", message + "; known types: " + join(known, ", "));
  }
  return info;
}

// `config` brings what was read before the document's sections (the secrets' paths).
PipelineConfig parse_document(YAML::Node root, ConfigDiagnostics& diag, ParseState& state, PipelineConfig config) {
  config.file = diag.file();
  if (!root.IsDefined() || root.IsNull()) {
    diag.add(YAML::Mark::null_mark(), "", "the config is empty; it needs source, stages and sink");
    return config;
  }
  ConfigReader top(root, "", diag);
  if (!root.IsMap()) return config;  // the reader said what it got; no key can be read from it

  const std::size_t errors_before_source = diag.count();
  ConfigReader source = top.map("source");
  if (!top.has("source")) top.fail("source", "missing required key (the input: type file, camera, url or synthetic)");
  if (const SourceInfo* info = top.has("source") ? read_type(source, SourceRegistry::instance(), "source") : nullptr)
    config.source = info->parse(source);
  config.capture_drop_policy = read_drop_policy(source, config.source.live);
  if (config.source.type.empty()) source.ignore_rest();
  source.finish();
  state.source_ok = diag.count() == errors_before_source && static_cast<bool>(config.source.open);

  std::map<std::string, std::pair<std::string, YAML::Mark>> stage_names;  // name: the first stage's path, position
  int total_workers = 0;
  const std::size_t errors_before_stages = diag.count();
  for (auto stage : top.map_list("stages", true)) {
    StageConfig s;
    s.name = stage.required_string("name");
    if (!s.name.empty() && !std::all_of(s.name.begin(), s.name.end(), is_stage_name_char))
      stage.fail("name", "expected letters, digits, _ or -, got \"" + s.name + "\"");
    else if (!s.name.empty()) {
      const auto [first, inserted] = stage_names.try_emplace(s.name, stage.path(), stage.mark_of("name"));
      if (!inserted)
        stage.fail("name", "duplicate stage name \"" + s.name + "\" (the first is " + first->second.first + ", " +
                               position_text(first->second.second) + ")");
    }
    s.workers = static_cast<int>(stage.integer("workers", 1, 1, 64));
    s.opencv_threads = static_cast<int>(stage.integer("threads", 1, 1, 64));
    s.nice = static_cast<int>(stage.integer("nice", kDefaultWorkerNice, 0, 19));
    s.drop_policy = read_drop_policy(stage, config.source.live);
    s.queue = static_cast<int>(stage.integer("queue", s.workers, 1, 4096));
    s.max_latency_ms = stage.optional_number("max_latency_ms", 1, 600'000).value_or(0);
    const std::size_t errors_before_ordered = diag.count();
    const bool ordered = stage.boolean("ordered", false);
    const bool ordered_given = stage.has("ordered") && diag.count() == errors_before_ordered;
    std::size_t ops_parsed = 0;
    s.ops = read_ops(stage, ops_parsed);
    state.stage_ops_parsed.push_back(ops_parsed);
    const auto stateful = std::find_if(s.ops.begin(), s.ops.end(), [](const OpEntry& op) { return op.spec.ordered; });
    if (stateful != s.ops.end() && ordered_given && !ordered)
      stage.fail("ordered", "op " + stateful->spec.name + " keeps state from frame to frame: its stage must be ordered");
    s.ordered = ordered || stateful != s.ops.end();
    if (s.ordered && s.workers > 1) {
      const std::string why = stateful != s.ops.end()
                                  ? "op " + stateful->spec.name + " keeps state from frame to frame, so stage"
                                  : "stage";
      stage.fail("workers", why + " \"" + s.name + "\" is ordered: it runs on one worker, which sees its frames in "
                            "order; got workers: " + std::to_string(s.workers) +
                            " (put stateless ops in a stage of their own to run them in parallel)");
    }
    stage.finish();
    total_workers += s.workers;
    config.stages.push_back(std::move(s));
  }
  if (config.stages.empty() && diag.count() == errors_before_stages) top.fail("stages", "expected at least one stage");

  ConfigReader buffers = top.map("buffers");
  const auto slots = buffers.optional_integer("slots", 2, 4096);
  config.slots_given = slots.has_value();
  config.slots = slots ? static_cast<int>(*slots) : 2 * total_workers + 4;
  config.slots_mark = buffers.mark_of("slots");
  buffers.finish();

  const std::size_t errors_before_sink = diag.count();
  ConfigReader sink = top.map("sink");
  if (!top.has("sink")) top.fail("sink", "missing required key (the output: type video, images or null)");
  if (const SinkInfo* info = top.has("sink") ? read_type(sink, SinkRegistry::instance(), "sink") : nullptr)
    config.sink = info->parse(sink);
  config.sink_mark = sink.mark();
  if (config.sink.type.empty()) sink.ignore_rest();
  sink.finish();
  state.sink_ok = diag.count() == errors_before_sink && !config.sink.type.empty();

  ConfigReader results = top.map("results");
  if (top.has("results")) {
    // In a file `-` must be quoted; `--set results.path=-` reads as a list of one empty item: stdout too.
    const YAML::Node value = results.raw("path", "a file path, or - for stdout");
    std::string path;
    if (value.IsScalar() && !value.Scalar().empty()) path = value.Scalar();
    else if (value.IsSequence() && value.size() == 1 && value[0].IsNull()) path = "-";
    else if (!results.has("path")) results.fail("path", "missing required key (a file, or - for stdout)");
    else if (value.IsDefined()) results.fail("path", "expected a file path, or - for stdout");
    config.results_path = path == "-" || path.empty() ? path : results.resolve_given_path("path", path);
    std::error_code ec;
    const auto canonical = [&](const std::string& p) { return std::filesystem::weakly_canonical(p, ec); };
    if (!path.empty() && path != "-") {
      if (!config.sink.path.empty() && canonical(config.results_path) == canonical(config.sink.path))
        results.fail("path", "is the sink's file too (" + config.sink.path + ")");
      else if (!config.source.path.empty() && canonical(config.results_path) == canonical(config.source.path))
        results.fail("path", "is the source's file (" + config.source.path + "); the results would overwrite the input");
    }
  }
  results.finish();

  ConfigReader limits = top.map("limits");
  config.frame_timeout_s = limits.number("frame_timeout", 30, 0, 86400);
  config.shutdown_grace_s = limits.number("shutdown_grace", 10, 0, 86400);
  config.crash_limit = static_cast<int>(limits.integer("crash_limit", 5, 1, 1000));
  config.crash_window_s = limits.positive_number("crash_window", 10, 86400);
  config.source_limits.max_frame_pixels =
      limits.integer("max_frame_pixels", kDefaultMaxFramePixels, 16 * 16, 16384LL * 16384);
  limits.finish();

  // Writing over the input would destroy it while it is read.
  if (!config.source.path.empty() && !config.sink.path.empty()) {
    std::error_code ec;
    if (std::filesystem::weakly_canonical(config.source.path, ec) ==
        std::filesystem::weakly_canonical(config.sink.path, ec))
      sink.fail("path", "is the source's file (" + config.source.path + "); the output would overwrite the input");
  }

  ConfigReader log = top.map("log");
  config.log_level = log.choice("level", "info", kLogLevels);
  config.stats_interval_s = log.number("stats_interval", 5, 0, 3600);
  log.finish();

  ConfigReader http = top.map("http");
  if (top.has("http")) {
    const std::string listen = http.required_string("listen");
    const std::size_t colon = listen.rfind(':');
    int port = -1;
    if (colon != std::string::npos && colon + 1 < listen.size() && colon + 6 >= listen.size() &&
        listen.find_first_not_of("0123456789", colon + 1) == std::string::npos)
      port = std::stoi(listen.substr(colon + 1));
    if (!listen.empty() && (colon == 0 || port < 1 || port > 65535)) {
      http.fail("listen", "expected HOST:PORT with a port in [1, 65535] (e.g. 127.0.0.1:8080), got \"" + listen + "\"");
    } else if (!listen.empty()) {
      config.http.listen = listen;
      config.http.host = listen.substr(0, colon);
      if (config.http.host.size() > 2 && config.http.host.front() == '[' && config.http.host.back() == ']')
        config.http.host = config.http.host.substr(1, config.http.host.size() - 2);
      config.http.port = port;
    }
    config.http.ready_window_s = http.positive_number("ready_window", 10, 86400);
    config.http.preview_fps = http.number("preview_fps", 10, 0.1, 60);
    config.http.preview_width = static_cast<int>(http.integer("preview_width", 640, 16, 7680));
    config.http.max_connections = static_cast<int>(http.integer("max_connections", 128, 8, 4096));
    config.http.allowed_hosts = http.string_list("allowed_hosts", {});
    for (const std::string& host : config.http.allowed_hosts)
      if (host.find_first_of(" /@") != std::string::npos)
        http.fail("allowed_hosts", "expected host names (e.g. cam1.example.com or 10.0.0.5), got \"" + host + "\"");
    if (const std::string file = http.path_value("token_file", ""); !file.empty()) {
      // A secret: read now, never shown; the file may be a Kubernetes Secret's.
      std::string token;
      if (const std::string why = read_small_file(file, kMaxSecretFileBytes, token); !why.empty()) {
        http.fail("token_file", "cannot read " + file + ": " + why);
      } else {
        while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
        if (token.size() < 16 || token.size() > 4096 || token.find_first_of(" \t\r\n") != std::string::npos)
          http.fail("token_file", file + " must hold one token of 16 to 4096 characters, no white space");
        else config.http.token = token;
      }
    }
    config.http.metrics_public = http.boolean("metrics_public", false);
  }
  http.finish();

  top.finish();
  config.resolved_yaml = YAML::Dump(root);
  config.shown_yaml = shown_document(root, config.secret_paths);
  // The stages alone, with their ops' values as read (a secret an op was given is the op's to
  // use): nothing else of the config, the source's URL included, reaches a worker process.
  YAML::Node stages_only(YAML::NodeType::Map);
  if (root["stages"]) stages_only["stages"] = root["stages"];
  config.worker_yaml = YAML::Dump(stages_only);
  return config;
}

}  // namespace

std::string read_config_file(const std::string& path, ConfigDiagnostics& diag) {
  std::string text;
  if (const std::string why = read_small_file(path, kMaxConfigFileBytes, text); why == "is a directory") {
    diag.add(YAML::Mark::null_mark(), "", "is a directory, expected a YAML file");
  } else if (!why.empty()) {
    diag.add(YAML::Mark::null_mark(), "", "cannot read the config file: " + why);
  }
  return text;
}

PipelineConfig parse_config_into(const std::string& text, const std::string& base_dir, const std::vector<std::string>& overrides,
                          ConfigDiagnostics& diag, ParseState& state) {
  diag.set_base_dir(base_dir);
  YAML::Node root = load_yaml(text, diag);
  std::vector<PipelineConfig::Pinned> pinned;
  if (root.IsDefined()) {
    if (!overrides.empty() && (!root.IsDefined() || root.IsNull())) root = YAML::Node(YAML::NodeType::Map);
    // A bad override is reported and skipped; the rest of the document is still checked.
    for (const auto& o : overrides) apply_override(root, o, diag, pinned);
  }
  std::set<std::string> secret_paths;
  if (root.IsDefined()) resolve_secret_tags(root, "", diag, secret_paths);
  PipelineConfig config;
  config.secret_paths = std::move(secret_paths);
  config.pinned = std::move(pinned);
  if (root.IsDefined()) config = parse_document(root, diag, state, std::move(config));
  return config;
}

PipelineConfig parse_config_text(const std::string& text, const std::string& file_name,
                                 const std::string& base_dir, const std::vector<std::string>& overrides) {
  ConfigDiagnostics diag(file_name);
  ParseState state;
  PipelineConfig config = parse_config_into(text, base_dir, overrides, diag, state);
  if (!diag.ok()) throw ConfigException(diag.sorted());
  return config;
}

PipelineConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  ConfigDiagnostics diag(path);
  const std::string text = read_config_file(path, diag);
  if (!diag.ok()) throw ConfigException(diag.sorted());
  return parse_config_text(text, path, config_base_dir(path), overrides);
}

std::string config_base_dir(const std::string& file) { return std::filesystem::path(file).parent_path().string(); }

std::vector<OpEntry> parse_stage_ops(const std::string& resolved_yaml, std::size_t index, const std::string& base_dir) {
  ConfigDiagnostics diag("(worker config)");
  diag.set_base_dir(base_dir);
  YAML::Node root = load_yaml(resolved_yaml, diag);
  std::vector<OpEntry> ops;
  if (diag.ok()) {
    const YAML::Node stages = root["stages"];
    if (!stages.IsSequence() || index >= stages.size()) {
      diag.add(YAML::Mark::null_mark(), "stages", "no stage " + std::to_string(index));
    } else {
      ConfigReader stage(stages[index], "stages[" + std::to_string(index) + "]", diag);
      std::size_t parsed = 0;
      ops = read_ops(stage, parsed);
    }
  }
  if (!diag.ok()) throw ConfigException(diag.sorted());
  return ops;
}

}  // namespace cvpipe
