#pragma once
// The catalogue: every type of op, source and sink, each registered by the file that implements
// it (CVPIPE_REGISTER_OP in pipeline/ops/op_registry.hpp; CVPIPE_REGISTER_SOURCE and
// CVPIPE_REGISTER_SINK below; all three are CVPIPE_REGISTER), and the spec a document's section of
// each type parses into. The config layer reads a document through it.
//
// A spec holds what the document needs to check itself (formats, whether a source is live, the
// files it reads and writes) and a factory for what runs: an Op (pipeline/ops/op.hpp), a Source or
// a Sink (pipeline/runtime/source.hpp, sink.hpp). Those belong to the layers that run them: here
// they are only named, and nothing in the config layer calls a factory.
//
// A type may live in a module that is not loaded yet (pipeline/modules/, loaded by the runtime):
// find_type() asks the TypeLoader the runtime installs to load it.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/core/frame.hpp"
#include "pipeline/core/named_registry.hpp"

namespace cvpipe {

class Op;
class Source;
class Sink;

// The output format of an element for a given input, or why the input does not fit.
struct FormatResult {
  FrameFormat format;
  std::string error;  // empty on success, else e.g. "expects 1 or 3 channels, got 4"
  static FormatResult ok(FrameFormat f) { return {f, {}}; }
  static FormatResult fail(std::string why) { return {{}, std::move(why)}; }
};

// A parsed, validated op, ready to be instantiated in any process.
struct OpSpec {
  std::string name;
  bool in_place = false;
  bool ordered = false;  // keeps state between frames: its stage runs one worker, in capture order
  std::function<FormatResult(const FrameFormat&)> output_format;
  std::function<std::unique_ptr<Op>()> make;
};

// What a source may hand the pipeline, from the config's `limits`: a file or a stream that says
// its frames are larger is refused (InputError, exit 66) before a frame of it is decoded, so that
// it cannot make the daemon allocate what it likes.
inline constexpr std::int64_t kDefaultMaxFramePixels = 7680LL * 4320;  // 8K UHD
struct SourceLimits {
  std::int64_t max_frame_pixels = kDefaultMaxFramePixels;
  // Set by `run` (not `validate`): a live source that cannot be opened at start may wait and try
  // again, as its reconnect policy says, sleeping with this; it returns false when a stop was
  // asked for during the wait (the source then throws StopRequested). Unset: one try.
  std::function<bool(double seconds)> wait_to_retry;
};

// A parsed, validated source; open() may be called more than once (validate, then run).
struct SourceSpec {
  std::string type;
  std::string description;  // for logs: "file samples/clip.mp4"
  std::string path;         // the file read, if the source is a file
  bool live = false;        // frames come on their own clock (a camera, a stream, pace: realtime)
  // Opens the source; throws InputError when it cannot be opened, has no frames, or its frames
  // are beyond `limits`.
  std::function<std::unique_ptr<Source>(const SourceLimits& limits)> open;
};

// A parsed, validated sink.
struct SinkSpec {
  std::string type;
  std::string description;  // "video out/default.mp4 (mp4v)"
  std::string path;         // the file written, if one (not a pattern)
  std::string writes;       // a file it writes (a pattern's first), whose folder is checked before a run; "" if none
  // Why frames of this format cannot be written, or empty.
  std::function<std::string(const FrameFormat&)> check_format;
  // Creates the output; throws OutputError when it cannot.
  std::function<std::unique_ptr<Sink>(const FrameFormat&, double fps)> open;
};

// What every registered type has.
struct TypeInfo {
  std::string name;
  std::string summary;  // one line
  std::string example;  // YAML: a list item for an op ("- op: name\n  key: value"), a section's keys for the rest
  bool hidden = false;  // for tests only; not listed
  const char* file = "";  // the file that registered it (set by CVPIPE_REGISTER)
};

struct OpInfo : TypeInfo {
  bool in_place = false;
  bool ordered = false;  // see OpSpec::ordered
  std::function<OpSpec(ConfigReader&)> parse;  // reads the op's keys (not "op"); errors go to the reader
};

struct SourceInfo : TypeInfo {
  std::function<SourceSpec(ConfigReader&)> parse;  // reads the section's keys but "type"
};

struct SinkInfo : TypeInfo {
  std::function<SinkSpec(ConfigReader&)> parse;  // reads the section's keys but "type"
};

using OpRegistry = NamedRegistry<OpInfo>;
using SourceRegistry = NamedRegistry<SourceInfo>;
using SinkRegistry = NamedRegistry<SinkInfo>;

// What the runtime knows of the types that live in modules (pipeline/runtime/module_loader.hpp).
class TypeLoader {
 public:
  virtual ~TypeLoader() = default;
  // Loads the module that holds the type `name` of `kind` ("source", "sink"), if one does; its
  // types then register themselves. Throws std::runtime_error when that module cannot be loaded.
  virtual void load(std::string_view kind, std::string_view name) = 0;
  // The names of `kind`'s types that modules hold, loaded or not.
  virtual std::vector<std::string> names(std::string_view kind) const = 0;
};

// Installed once by the runtime, before any document is read; nullptr (the default): every type
// is linked in.
void set_type_loader(TypeLoader* loader) noexcept;

// The registered type `name` of `kind`, loading its module if it is in one; nullptr when no such
// type exists. `known` is then every type of that kind, registered or in a module, sorted.
template <class Info>
const Info* find_type(const NamedRegistry<Info>& registry, std::string_view kind, std::string_view name,
                      std::vector<std::string>& known);

// The parameters a type's parse function reads, from a run of it in describe mode (no value is
// read): what `cvpipe ops`, `cvpipe sources` and `cvpipe sinks` list.
std::vector<ParamDoc> describe_params(const std::function<void(ConfigReader&)>& parse);

#define CVPIPE_REGISTER_SOURCE(id, name, summary, example, parse_fn) \
  CVPIPE_REGISTER(::cvpipe::SourceRegistry, id, ::cvpipe::SourceInfo{{name, summary, example}, parse_fn})
#define CVPIPE_REGISTER_SINK(id, name, summary, example, parse_fn) \
  CVPIPE_REGISTER(::cvpipe::SinkRegistry, id, ::cvpipe::SinkInfo{{name, summary, example}, parse_fn})

}  // namespace cvpipe
