#include "pipeline/config/config_reader.hpp"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <tuple>

namespace cvpipe {
namespace {

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A scalar written in quotes ("5", '5'): a string, whatever it spells. yaml-cpp tags those "!"
// and plain ones "?".
bool quoted(const YAML::Node& n) { return n.IsScalar() && n.Tag() == "!"; }

bool is_null_word(std::string_view s) { return s == "null" || s == "Null" || s == "NULL"; }

// What a node holds, for "got ..." in messages.
std::string describe_node(const YAML::Node& n) {
  if (!n.IsDefined()) return "nothing";
  if (n.IsNull()) return "null";
  if (quoted(n)) return "the string " + quote(n.Scalar());
  if (n.IsScalar() && is_null_word(n.Scalar())) return "null";
  if (n.IsScalar()) {
    char* end = nullptr;
    const std::string& t = n.Scalar();
    std::strtod(t.c_str(), &end);
    const bool numeric = !t.empty() && end == t.c_str() + t.size();
    return numeric ? t : quote(t);
  }
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "an unknown value";
}

std::string format_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

std::string range_text(std::int64_t min, std::int64_t max) {
  if (min != ConfigReader::kIntMin && max != ConfigReader::kIntMax)
    return "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (min != ConfigReader::kIntMin) return ">= " + std::to_string(min);
  if (max != ConfigReader::kIntMax) return "<= " + std::to_string(max);
  return "";
}

std::string range_text(double min, double max) {
  const bool has_min = std::isfinite(min), has_max = std::isfinite(max);
  if (has_min && has_max) return "in [" + format_number(min) + ", " + format_number(max) + "]";
  if (has_min) return ">= " + format_number(min);
  if (has_max) return "<= " + format_number(max);
  return "";
}

std::optional<std::int64_t> parse_int(const std::string& s) {
  std::int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(const std::string& s) {
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  return std::nullopt;
}

// Turns each plain null word (null, Null, NULL) under `n` back into that word, a string; `~` and
// empty values stay null. yaml-cpp reads them alike; only the text tells them apart.
void keep_null_words(YAML::Node n, std::string_view text) {
  if (n.IsNull() && !n.Mark().is_null()) {
    const auto pos = static_cast<std::size_t>(n.Mark().pos);
    std::size_t end = pos;
    while (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end]))) ++end;
    if (pos <= text.size() && is_null_word(text.substr(pos, end - pos))) n = std::string(text.substr(pos, end - pos));
    return;
  }
  if (n.IsMap())
    for (auto kv : n) keep_null_words(kv.second, text);
  else if (n.IsSequence())
    for (auto item : n) keep_null_words(item, text);
}

// Counts the values of the first document with every alias expanded, and throws
// YAML::ParserException at the alias that takes it past kMaxExpandedValues. yaml-cpp shares an
// anchored node among its aliases, but reading the document (and writing it out again) visits it
// once per alias: a few hundred bytes of nested aliases ("billion laughs") would take hours.
constexpr std::uint64_t kMaxExpandedValues = 100'000;

class ExpansionBudget final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { value(mark, anchor, 1); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    add(mark, anchor < sizes_.size() ? sizes_[anchor] : 1);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string&) override {
    value(mark, anchor, 1);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open_.push_back({mark, anchor, 1});
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open_.push_back({mark, anchor, 1});
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    YAML::Mark mark;
    YAML::anchor_t anchor;
    std::uint64_t values;
  };
  void value(const YAML::Mark& mark, YAML::anchor_t anchor, std::uint64_t n) {
    remember(anchor, n);
    add(mark, n);
  }
  void remember(YAML::anchor_t anchor, std::uint64_t n) {
    if (anchor == YAML::NullAnchor) return;
    if (anchor >= sizes_.size()) sizes_.resize(anchor + 1, 1);
    sizes_[anchor] = n;
  }
  void add(const YAML::Mark& mark, std::uint64_t n) {
    std::uint64_t& into = open_.empty() ? total_ : open_.back().values;
    into = std::min(kMaxExpandedValues + 1, into + n);
    if (into > kMaxExpandedValues)
      throw YAML::ParserException(mark, "its aliases (*name) expand it to more than " +
                                            std::to_string(kMaxExpandedValues) + " values: refused");
  }
  void close() {
    const Open done = open_.back();
    open_.pop_back();
    remember(done.anchor, done.values);
    add(done.mark, done.values);
  }
  std::vector<Open> open_;
  std::vector<std::uint64_t> sizes_;  // by anchor: the values of the anchored node, expanded
  std::uint64_t total_ = 0;
};

// Records where each document starts; ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

std::string position_text(const YAML::Mark& mark) {
  return "at line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

YAML::Node load_yaml_document(const std::string& text) {
  {
    std::istringstream in(text);
    YAML::Parser parser(in);
    ExpansionBudget budget;
    parser.HandleNextDocument(budget);
  }
  YAML::Node root = YAML::Load(text);
  // yaml-cpp's positions start after a UTF-8 byte order mark.
  const std::string_view bom = "\xEF\xBB\xBF";
  std::string_view body = text;
  if (body.substr(0, bom.size()) == bom) body.remove_prefix(bom.size());
  keep_null_words(root, body);
  return root;
}

std::optional<YAML::Mark> second_document_start(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts handler;
  try {
    while (handler.starts.size() < 2 && parser.HandleNextDocument(handler)) {
    }
  } catch (const YAML::Exception&) {
    // Past the second start (the first document parsed before this): it is reported as such.
  }
  if (handler.starts.size() < 2) return std::nullopt;
  return handler.starts[1];
}

std::string ConfigError::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

void ConfigDiagnostics::add(const YAML::Mark& mark, const std::string& path, std::string message) {
  if (describing_) return;
  ConfigError e;
  e.path = path;
  e.message = std::move(message);
  // A value that came from --set is reported against the command line, not the file.
  for (const auto& [overridden, origin] : overrides_) {
    if (path == overridden || path.rfind(overridden + ".", 0) == 0 || path.rfind(overridden + "[", 0) == 0) {
      e.file = origin;
      errors_.push_back(std::move(e));
      return;
    }
  }
  e.file = file_;
  if (!mark.is_null()) {
    e.line = mark.line + 1;
    e.column = mark.column + 1;
  }
  errors_.push_back(std::move(e));
}

void ConfigDiagnostics::add_about_object(const YAML::Mark& mark, const std::string& path, std::string_view kind_key,
                                         std::string message) {
  const auto kind = overrides_.find(path + "." + std::string(kind_key));
  if (kind == overrides_.end() || describing_) return add(mark, path, std::move(message));
  errors_.push_back(ConfigError{kind->second, 0, 0, path, std::move(message)});
}

bool ConfigDiagnostics::has_errors_under(std::string_view path) const {
  return std::any_of(errors_.begin(), errors_.end(), [path](const ConfigError& e) {
    const std::string_view p = e.path;
    return p.substr(0, path.size()) == path && (p.size() == path.size() || p[path.size()] == '.' || p[path.size()] == '[');
  });
}

bool ConfigDiagnostics::from_command_line(std::string_view path) const {
  return std::any_of(overrides_.begin(), overrides_.end(), [path](const auto& o) {
    const std::string& given = o.first;
    return path.substr(0, given.size()) == given &&
           (path.size() == given.size() || path[given.size()] == '.' || path[given.size()] == '[');
  });
}

void ConfigDiagnostics::add_override(std::string canonical_path, std::string origin) {
  overrides_[std::move(canonical_path)] = std::move(origin);
}

void ConfigDiagnostics::add_override_error(const std::string& origin, std::string message) {
  if (describing_) return;
  errors_.push_back(ConfigError{origin, 0, 0, "", std::move(message)});
}

std::vector<ConfigError> ConfigDiagnostics::sorted() const {
  std::vector<ConfigError> out = errors_;
  // The file's errors by position, then the command line's (--set).
  std::stable_sort(out.begin(), out.end(), [this](const ConfigError& a, const ConfigError& b) {
    return std::make_tuple(a.file != file_, a.line, a.column) < std::make_tuple(b.file != file_, b.line, b.column);
  });
  // The same error reached twice (e.g. a section read by two passes) is reported once.
  out.erase(std::unique(out.begin(), out.end(),
                        [](const ConfigError& a, const ConfigError& b) {
                          return a.to_string() == b.to_string();
                        }),
            out.end());
  return out;
}

ConfigException::ConfigException(std::vector<ConfigError> errors)
    : std::runtime_error(errors.empty() ? "config error" : errors.front().to_string()),
      errors_(std::move(errors)) {}

ConfigReader::ConfigReader(const YAML::Node& node, std::string path, ConfigDiagnostics& diag,
                           YAML::Mark mark)
    : node_(node), path_(std::move(path)), diag_(&diag), mark_(mark) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.Mark().is_null()) mark_ = node_.Mark();
  if (!node_.IsDefined() || node_.IsNull()) return;
  if (!node_.IsMap()) {
    diag_->add(mark_, path_, "expected a mapping (key: value lines), got " + describe_node(node_));
    return;
  }
  is_map_ = true;
  // yaml-cpp keeps duplicate keys and answers lookups with the first; report the others.
  std::map<std::string, YAML::Mark> first;
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) {
      diag_->add(kv.first.Mark(), path_, "keys must be plain words, got " + describe_node(kv.first));
      continue;
    }
    const std::string key = kv.first.Scalar();
    auto [it, inserted] = first.emplace(key, kv.first.Mark());
    if (!inserted) diag_->add(kv.first.Mark(), key_path(key), "duplicate key (first given " + position_text(it->second) + ")");
  }
}

std::string ConfigReader::key_path(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

YAML::Node ConfigReader::find(std::string_view key) const {
  if (!is_map_) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& kv : node_)
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
  return YAML::Node(YAML::NodeType::Undefined);
}

// Every read goes through here. A key given with no value (`ksize:`, `ksize: ~`, `{ksize: }`) is
// not absent: no key takes null, so it is reported as not being what the read expects, and the
// read then goes on as if the key were absent (its fallback, no second error).
YAML::Node ConfigReader::take(std::string_view key, std::string_view expected) {
  used_.emplace(key);
  const YAML::Node n = find(key);
  if (n.IsDefined() && n.IsNull()) {
    fail(key, "expected " + std::string(expected) + ", got null");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return n;
}

bool ConfigReader::has(std::string_view key) const { return find(key).IsDefined(); }

YAML::Mark ConfigReader::mark_of(std::string_view key) const {
  if (!is_map_) return mark_;
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar() || kv.first.Scalar() != key) continue;
    const YAML::Mark k = kv.first.Mark(), v = kv.second.Mark();
    // An empty value's mark is that of whatever follows it, maybe lines below: use the key's.
    if (kv.second.IsNull() && (v.is_null() || v.line != k.line)) return k.is_null() ? mark_ : k;
    return v.is_null() ? mark_ : v;
  }
  return mark_;
}

void ConfigReader::fail(std::string_view key, std::string message) {
  diag_->add(mark_of(key), key_path(key), std::move(message));
}

void ConfigReader::fail_here(std::string message) { diag_->add(mark_, path_, std::move(message)); }

bool ConfigReader::scalar_or_fail(std::string_view key, const YAML::Node& n, std::string_view expected) {
  if (n.IsScalar()) return true;
  fail(key, "expected " + std::string(expected) + ", got " + describe_node(n));
  return false;
}

void ConfigReader::document(std::string_view key, std::string type, std::string default_text,
                            std::string constraint, bool required) {
  if (!describing()) return;
  // A nested section's keys by their path from the described object: reconnect.delay.
  const std::string path = key_path(key);
  auto& docs = diag_->docs();
  for (const auto& d : docs)
    if (d.key == path) return;
  docs.push_back({path, std::move(type), std::move(default_text), std::move(constraint), required});
}

std::optional<std::int64_t> ConfigReader::integer_value(std::string_view key, const std::string& expected,
                                                        std::int64_t min, std::int64_t max) {
  const YAML::Node n = take(key, expected);
  if (!n.IsDefined()) return std::nullopt;
  if (!scalar_or_fail(key, n, expected)) return std::nullopt;
  auto v = quoted(n) ? std::nullopt : parse_int(n.Scalar());
  if (!v || *v < min || *v > max) {
    fail(key, "expected " + expected + ", got " + describe_node(n));
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> ConfigReader::optional_integer(std::string_view key, std::int64_t min,
                                                           std::int64_t max) {
  if (describing()) {
    document(key, "integer", "", range_text(min, max), false);
    return std::nullopt;
  }
  const std::string range = range_text(min, max);
  return integer_value(key, "an integer" + (range.empty() ? "" : " " + range), min, max);
}

std::int64_t ConfigReader::integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                                   std::int64_t max) {
  if (describing()) {
    document(key, "integer", std::to_string(fallback), range_text(min, max), false);
    return fallback;
  }
  return optional_integer(key, min, max).value_or(fallback);
}

std::int64_t ConfigReader::odd_integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                                       std::int64_t max) {
  const std::string range = range_text(min, max);
  if (describing()) {
    document(key, "integer", std::to_string(fallback), "odd" + (range.empty() ? "" : ", " + range), false);
    return fallback;
  }
  const std::string expected = "an odd integer" + (range.empty() ? "" : " " + range);
  const YAML::Node n = find(key);
  auto v = integer_value(key, expected, kIntMin, kIntMax);
  if (!v) return fallback;
  if (*v % 2 == 0 || *v < min || *v > max) {
    fail(key, "expected " + expected + ", got " + describe_node(n));
    return fallback;
  }
  return *v;
}

std::optional<double> ConfigReader::number_value(std::string_view key, const std::string& expected, double min,
                                                double max) {
  const YAML::Node n = take(key, expected);
  if (!n.IsDefined()) return std::nullopt;
  if (!scalar_or_fail(key, n, expected)) return std::nullopt;
  auto v = quoted(n) ? std::nullopt : parse_double(n.Scalar());
  if (!v || *v < min || *v > max) {
    fail(key, "expected " + expected + ", got " + describe_node(n));
    return std::nullopt;
  }
  return v;
}

std::optional<double> ConfigReader::optional_number(std::string_view key, double min, double max) {
  if (describing()) {
    document(key, "number", "", range_text(min, max), false);
    return std::nullopt;
  }
  const std::string range = range_text(min, max);
  return number_value(key, "a number" + (range.empty() ? "" : " " + range), min, max);
}

double ConfigReader::number(std::string_view key, double fallback, double min, double max) {
  if (describing()) {
    document(key, "number", format_number(fallback), range_text(min, max), false);
    return fallback;
  }
  return optional_number(key, min, max).value_or(fallback);
}

void ConfigReader::document_rule(std::string_view key, std::string_view rule) {
  if (!describing()) return;
  const std::string path = key_path(key);
  for (ParamDoc& d : diag_->docs())
    if (d.key == path) d.constraint += (d.constraint.empty() ? "" : "; ") + std::string(rule);
}

double ConfigReader::positive_number(std::string_view key, double fallback, double max) {
  const std::string range = std::isfinite(max) ? "in (0, " + format_number(max) + "]" : "> 0";
  if (describing()) {
    document(key, "number", format_number(fallback), range, false);
    return fallback;
  }
  const YAML::Node n = find(key);
  auto v = number_value(key, "a number " + range, -std::numeric_limits<double>::infinity(),
                        std::numeric_limits<double>::infinity());
  if (!v) return fallback;
  if (*v <= 0 || *v > max) {
    fail(key, "expected a number " + range + ", got " + describe_node(n));
    return fallback;
  }
  return *v;
}

bool ConfigReader::boolean(std::string_view key, bool fallback) {
  if (describing()) {
    document(key, "boolean", fallback ? "true" : "false", "", false);
    return fallback;
  }
  const YAML::Node n = take(key, "true or false");
  if (!n.IsDefined()) return fallback;
  if (!scalar_or_fail(key, n, "true or false")) return fallback;
  auto v = quoted(n) ? std::nullopt : parse_bool(n.Scalar());
  if (!v) {
    fail(key, "expected true or false, got " + describe_node(n));
    return fallback;
  }
  return *v;
}

std::optional<std::string> ConfigReader::string_value(std::string_view key, std::string_view expected) {
  const YAML::Node n = take(key, expected);
  if (!n.IsDefined()) return std::nullopt;
  if (!scalar_or_fail(key, n, expected)) return std::nullopt;
  return n.Scalar();
}

std::optional<std::string> ConfigReader::optional_string(std::string_view key) {
  if (describing()) {
    document(key, "string", "", "", false);
    return std::nullopt;
  }
  return string_value(key, "a string");
}

std::string ConfigReader::string(std::string_view key, std::string fallback) {
  if (describing()) {
    document(key, "string", fallback.empty() ? "\"\"" : fallback, "", false);
    return fallback;
  }
  return optional_string(key).value_or(std::move(fallback));
}

std::vector<std::string> ConfigReader::string_list(std::string_view key, std::vector<std::string> fallback) {
  if (describing()) {
    std::string text = "[";
    for (const auto& f : fallback) text += (text.size() > 1 ? ", " : "") + f;
    document(key, "list of strings", fallback.empty() ? "[] (all)" : text + "]", "", false);
    return fallback;
  }
  const YAML::Node n = take(key, "a list of names, e.g. [face, person]");
  if (!n.IsDefined()) return fallback;
  std::vector<std::string> out;
  if (n.IsScalar() && !n.Scalar().empty()) return {n.Scalar()};
  bool good = n.IsSequence();
  for (std::size_t i = 0; good && i < n.size(); ++i) {
    good = n[i].IsScalar() && !n[i].Scalar().empty();
    if (good) out.push_back(n[i].Scalar());
  }
  if (!good) {
    fail(key, "expected a list of names, e.g. [face, person], got " + describe_node(n));
    return fallback;
  }
  return out;
}

std::pair<int, int> ConfigReader::integer_pair(std::string_view key, std::pair<int, int> fallback, int min, int max) {
  const std::string range = range_text(std::int64_t{min}, std::int64_t{max});
  const std::string fallback_text = "[" + std::to_string(fallback.first) + ", " + std::to_string(fallback.second) + "]";
  if (describing()) {
    document(key, "list of 2 integers", fallback_text, "each " + range, false);
    return fallback;
  }
  const YAML::Node n = take(key, "a list of 2 integers, each " + range);
  if (!n.IsDefined()) return fallback;
  std::optional<std::int64_t> a, b;
  if (n.IsSequence() && n.size() == 2 && n[0].IsScalar() && n[1].IsScalar() && !quoted(n[0]) && !quoted(n[1])) {
    a = parse_int(n[0].Scalar());
    b = parse_int(n[1].Scalar());
  }
  if (!a || !b || *a < min || *a > max || *b < min || *b > max) {
    std::string got = describe_node(n);
    if (n.IsSequence()) {
      YAML::Emitter e;
      e.SetSeqFormat(YAML::Flow);
      e << n;
      got = e.c_str();
    }
    fail(key, "expected a list of 2 integers, each " + range + ", got " + got);
    return fallback;
  }
  return {static_cast<int>(*a), static_cast<int>(*b)};
}

std::string ConfigReader::path_value(std::string_view key, std::string fallback) {
  if (describing()) {
    document(key, "path", fallback, "relative to the config file", false);
    return fallback;
  }
  const std::optional<std::string> given = string_value(key, "a path");
  return given ? resolve_given_path(key, *given) : resolve_path(fallback);
}

std::string ConfigReader::required_path(std::string_view key, std::string* given) {
  if (describing()) {
    document(key, "path", "", "relative to the config file", true);
    return "";
  }
  std::string text = required_string(key);
  if (given) *given = text;
  return resolve_given_path(key, text);
}

std::string ConfigReader::resolve_given_path(std::string_view key, const std::string& given) {
  if (given.empty() || given[0] == '/') return given;
  const std::string at = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  if (!diag_->from_command_line(at)) return resolve_path(given);
  // Typed on the command line: relative to where it was typed. Written back into the document,
  // absolute, so that whoever reads the document later (a worker, the shown config) reads the
  // same file.
  std::error_code ec;
  const std::filesystem::path here = std::filesystem::current_path(ec);
  if (ec) return given;
  std::string absolute = (here / given).lexically_normal().string();
  node_[std::string(key)] = absolute;
  return absolute;
}

std::string ConfigReader::resolve_path(const std::string& given) const {
  if (given.empty() || given[0] == '/' || diag_->base_dir().empty()) return given;
  return (std::filesystem::path(diag_->base_dir()) / given).lexically_normal().string();
}

std::string ConfigReader::required_string(std::string_view key) {
  if (describing()) {
    document(key, "string", "", "", true);
    return "";
  }
  auto v = string_value(key, "a non-empty string");
  if (!v) {
    if (!has(key)) fail(key, "missing required key");
    return "";
  }
  if (v->empty()) fail(key, "expected a non-empty string, got \"\"");
  return *v;
}

std::string ConfigReader::choice(std::string_view key, std::string fallback,
                                 std::initializer_list<std::string_view> choices) {
  if (describing()) {
    document(key, "one of " + join(choices, "|"), fallback, "", false);
    return fallback;
  }
  auto v = string_value(key, "one of " + join(choices, ", "));
  if (!v) return fallback;
  for (auto c : choices)
    if (*v == c) return *v;
  std::string message = "expected one of " + join(choices, ", ") + ", got " + quote(*v);
  std::vector<std::string> candidates(choices.begin(), choices.end());
  if (auto near = closest_match(*v, candidates); !near.empty()) message += " (did you mean " + quote(near) + "?)";
  fail(key, message);
  return fallback;
}

ConfigReader ConfigReader::map(std::string_view key) {
  document(key, "section", "", "", false);  // its keys follow as key.subkey
  const YAML::Node n = take(key, "a mapping (key: value lines)");
  return ConfigReader(n, key_path(key), *diag_, mark_of(key));
}

std::vector<ConfigReader> ConfigReader::map_list(std::string_view key, bool required) {
  std::vector<ConfigReader> out;
  if (describing()) return out;
  const YAML::Node n = take(key, "a list (lines starting with \"- \")");
  if (!n.IsDefined()) {
    if (required && !has(key)) fail(key, "missing required key (a list)");
    return out;
  }
  if (!n.IsSequence()) {
    fail(key, "expected a list (lines starting with \"- \"), got " + describe_node(n));
    return out;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string item_path = key_path(key) + "[" + std::to_string(i) + "]";
    out.emplace_back(n[i], item_path, *diag_, n[i].Mark().is_null() ? mark_of(key) : n[i].Mark());
    if (!n[i].IsDefined() || n[i].IsNull()) out.back().fail_here("expected a mapping, got null");
  }
  return out;
}

YAML::Node ConfigReader::raw(std::string_view key, std::string_view expected) { return take(key, expected); }

void ConfigReader::finish() {
  if (!is_map_ || describing()) return;
  std::vector<std::string> known(used_.begin(), used_.end());
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) continue;
    const std::string& key = kv.first.Scalar();
    if (used_.count(key)) continue;
    std::string message = "unknown key";
    if (auto near = closest_match(key, known); !near.empty()) message += " (did you mean " + quote(near) + "?)";
    diag_->add(kv.first.Mark(), key_path(key), message);
  }
}

void ConfigReader::ignore_rest() {
  if (!is_map_) return;
  for (const auto& kv : node_)
    if (kv.first.IsScalar()) used_.insert(kv.first.Scalar());
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace cvpipe
