#pragma once
// Reading YAML into plain values with errors a person can act on.
//
// yaml-cpp gives positions through Node::Mark(), but a missing key has no mark, a wrong type only
// says "bad conversion" and duplicate keys pass silently. ConfigReader reports all of that itself:
//
//   config/edges.yaml:14:9: stages[1].ops[0].ksize: expected an odd integer >= 1, got 4
//   config/edges.yaml:3:1: sorce: unknown key (did you mean "source"?)
//
// Every read marks its key as used; finish() reports what is left over. No key takes null: a key
// given with no value (`ksize:`, `ksize: ~`) is an error, "expected an odd integer, got null". The
// plain word `null` is that word, a string (the sink type `null`). Errors are collected in a
// ConfigDiagnostics and reported all at once, sorted by line. In "describe" mode (for `cvpipe ops`)
// the same parse code records each parameter it reads instead of reading anything.
//
// Not thread-safe; used at load time only.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cvpipe {

struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when there is no position
  int column = 0;  // 1-based
  std::string path;  // key path, e.g. stages[1].ops[0].ksize
  std::string message;
  std::string to_string() const;  // file:line:col: path: message
};

// One parameter as seen by describe mode (shown by `cvpipe ops`).
struct ParamDoc {
  std::string key;
  std::string type;        // "integer", "number", "boolean", "string", "one of a|b"
  std::string default_text;  // empty when required
  std::string constraint;  // e.g. ">= 1, odd"
  bool required = false;
};

// Collects the errors of one config document. Also knows which key paths came from --set
// overrides, so that errors about them point at the command line rather than the file.
class ConfigDiagnostics {
 public:
  explicit ConfigDiagnostics(std::string file) : file_(std::move(file)) {}

  void add(const YAML::Mark& mark, const std::string& path, std::string message);
  // An error about the object at `path` as a whole (an op, the sink), whose kind its key
  // `kind_key` names (`op`, `type`). As add(), and when a --set gave that key the error names the
  // --set too: the file's line holds an object of another kind.
  void add_about_object(const YAML::Mark& mark, const std::string& path, std::string_view kind_key,
                        std::string message);
  void add_override(std::string canonical_path, std::string origin);  // origin: "--set a.b=3"
  // Whether the value at `path` came from a --set (given itself, or inside a section one gave).
  bool from_command_line(std::string_view path) const;
  // An error in a command-line override itself (it names the --set, not the file).
  void add_override_error(const std::string& origin, std::string message);
  bool ok() const noexcept { return errors_.empty(); }
  std::size_t count() const noexcept { return errors_.size(); }
  // Whether an error is about `path` or something inside it (stages[1].ops[0] holds
  // stages[1].ops[0].ksize, not stages[1].ops[01]).
  bool has_errors_under(std::string_view path) const;
  std::vector<ConfigError> sorted() const;
  const std::string& file() const noexcept { return file_; }

  // The folder relative paths in the document are relative to (the config file's); "" for the
  // current directory.
  void set_base_dir(std::string dir) { base_dir_ = std::move(dir); }
  const std::string& base_dir() const noexcept { return base_dir_; }

  // Describe mode: reads record ParamDocs here instead of reading values.
  void start_describing() { describing_ = true; }
  bool describing() const noexcept { return describing_; }
  std::vector<ParamDoc>& docs() { return docs_; }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
  std::map<std::string, std::string> overrides_;
  bool describing_ = false;
  std::vector<ParamDoc> docs_;
  std::string base_dir_;
};

// Thrown by loaders when a config has errors; holds all of them, sorted.
class ConfigException : public std::runtime_error {
 public:
  explicit ConfigException(std::vector<ConfigError> errors);
  const std::vector<ConfigError>& errors() const noexcept { return errors_; }

 private:
  std::vector<ConfigError> errors_;
};

// A view onto one YAML mapping (one object of the config). Reads mark keys as used; finish()
// reports unknown keys with a suggestion. A node that is not a mapping is reported once, and every
// read then returns its fallback.
class ConfigReader {
 public:
  static constexpr std::int64_t kIntMin = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t kIntMax = std::numeric_limits<std::int64_t>::max();

  // `node` may be undefined/null (treated as an empty mapping); `mark` locates the object when it
  // has no position of its own (e.g. a missing optional section).
  ConfigReader(const YAML::Node& node, std::string path, ConfigDiagnostics& diag,
               YAML::Mark mark = YAML::Mark::null_mark());

  const std::string& path() const noexcept { return path_; }
  std::string key_path(std::string_view key) const;
  ConfigDiagnostics& diagnostics() noexcept { return *diag_; }
  bool describing() const noexcept { return diag_->describing(); }

  // Whether `key` is given, with a value or not (`ksize:` is given, and an error when read).
  bool has(std::string_view key) const;

  // Optional values with a default. min/max are inclusive.
  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min = kIntMin,
                       std::int64_t max = kIntMax);
  // An odd integer (kernel sizes).
  std::int64_t odd_integer(std::string_view key, std::int64_t fallback, std::int64_t min = kIntMin,
                           std::int64_t max = kIntMax);
  std::optional<std::int64_t> optional_integer(std::string_view key, std::int64_t min = kIntMin,
                                               std::int64_t max = kIntMax);
  double number(std::string_view key, double fallback,
                double min = -std::numeric_limits<double>::infinity(),
                double max = std::numeric_limits<double>::infinity());
  std::optional<double> optional_number(std::string_view key,
                                        double min = -std::numeric_limits<double>::infinity(),
                                        double max = std::numeric_limits<double>::infinity());
  // A number > 0 (and <= max).
  double positive_number(std::string_view key, double fallback,
                         double max = std::numeric_limits<double>::infinity());
  bool boolean(std::string_view key, bool fallback);
  std::string string(std::string_view key, std::string fallback);
  std::optional<std::string> optional_string(std::string_view key);
  // A non-empty string; "" (after an error) when missing or empty.
  std::string required_string(std::string_view key);
  // A list of non-empty strings (a single string is a list of one); `fallback` when absent.
  std::vector<std::string> string_list(std::string_view key, std::vector<std::string> fallback);
  // A list of two integers [a, b], each in [min, max] (sizes: [width, height]).
  std::pair<int, int> integer_pair(std::string_view key, std::pair<int, int> fallback, int min, int max);
  // A file path: absolute, or relative to the document's base dir (ConfigDiagnostics::base_dir).
  std::string path_value(std::string_view key, std::string fallback);
  // A required file path, resolved as path_value() does; `given`, if not null, gets it as written.
  std::string required_path(std::string_view key, std::string* given = nullptr);
  // `given` as the file's paths are read: unchanged if absolute or empty, else relative to the base dir.
  std::string resolve_path(const std::string& given) const;
  // The path `given` for `key`: relative to the base dir when the file gave it, to the current
  // directory when a --set did (then written back into the document, absolute).
  std::string resolve_given_path(std::string_view key, const std::string& given);
  // One of a fixed set of words.
  std::string choice(std::string_view key, std::string fallback,
                     std::initializer_list<std::string_view> choices);

  // A nested mapping (absent: an empty reader positioned at this object).
  ConfigReader map(std::string_view key);
  // A sequence of mappings, each read as keyed `key[i]`. Reports a non-sequence.
  std::vector<ConfigReader> map_list(std::string_view key, bool required);
  // The raw node, marked used (for values a caller interprets itself); undefined when absent or
  // given with no value, which is reported as not being `expected` ("a list of 3 integers").
  YAML::Node raw(std::string_view key, std::string_view expected);

  // Records an error about `key`'s value (or about this object when the key is absent).
  void fail(std::string_view key, std::string message);
  // Records an error about this object as a whole.
  void fail_here(std::string message);
  // Position of `key`'s value, or of this object when absent.
  YAML::Mark mark_of(std::string_view key) const;
  YAML::Mark mark() const noexcept { return mark_; }

  // Describe mode: documents a key that the caller reads itself (e.g. through raw()), or adds a
  // rule that involves other keys ("high >= low") to a documented key. No-ops otherwise.
  void document(std::string_view key, std::string type, std::string default_text,
                std::string constraint, bool required);
  void document_rule(std::string_view key, std::string_view rule);

  // Reports every key not read as unknown, with "did you mean" when one is close.
  void finish();
  // Marks every key as read (after an error that makes the rest meaningless, e.g. an unknown type).
  void ignore_rest();

 private:
  YAML::Node find(std::string_view key) const;  // undefined when absent
  // find + mark used; a key given with no value is reported as not being `expected`, and undefined.
  YAML::Node take(std::string_view key, std::string_view expected);
  bool scalar_or_fail(std::string_view key, const YAML::Node& n, std::string_view expected);
  std::optional<std::int64_t> integer_value(std::string_view key, const std::string& expected, std::int64_t min,
                                            std::int64_t max);
  std::optional<double> number_value(std::string_view key, const std::string& expected, double min, double max);
  std::optional<std::string> string_value(std::string_view key, std::string_view expected);

  YAML::Node node_;
  std::string path_;
  ConfigDiagnostics* diag_;
  YAML::Mark mark_;
  bool is_map_ = false;
  std::set<std::string, std::less<>> used_;
};

// YAML::Load for documents that ConfigReaders read: a plain `null` (Null, NULL) stays that word, a
// string, while `~` and an empty value are null (yaml-cpp reads them all as null). Throws
// YAML::Exception.
YAML::Node load_yaml_document(const std::string& text);
// Where a second YAML document in `text` starts (its `---`), which load_yaml_document() does
// not read; nullopt when there is none. Never throws: what follows that `---` does not matter.
std::optional<YAML::Mark> second_document_start(const std::string& text);

// Text utilities shared by readers and the CLI.
// "at line 4, column 9" (1-based), for messages that point at a second place.
std::string position_text(const YAML::Mark& mark);
std::size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a small distance, or empty.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);
// `words` joined with `sep`: "a, b, c".
template <class Words>
std::string join(const Words& words, std::string_view sep) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += sep;
    out += w;
  }
  return out;
}

}  // namespace cvpipe
