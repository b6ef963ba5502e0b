#pragma once
// Sources: where frames come from. One file per type in pipeline/sources/<type>_source.cpp, each
// registering a parser with CVPIPE_REGISTER_SOURCE; adding a type touches no other file.
//
// A Source is used by the capture thread only. read() decodes straight into the memory it is given
// (a header over a shared-memory slot of exactly format()), so frames are not copied on the way in.
#include <opencv2/core.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/core/named_registry.hpp"
#include "pipeline/ops/frame.hpp"

namespace cvpipe {

class Source {
 public:
  enum class Read { kFrame, kEnd, kError };

  virtual ~Source() = default;
  virtual FrameFormat format() const = 0;
  virtual double fps() const = 0;                      // frames per second of the media
  virtual std::int64_t frame_count() const { return -1; }  // -1 when unknown
  // Decodes the next frame into `into` (size and type of format()) and sets meta.pts_us, and
  // meta.capture_ns if the source knows when the frame was captured (else the daemon stamps it
  // when read() returns). On kError, `error` says what went wrong.
  virtual Read read(cv::Mat& into, FrameMeta& meta, std::string& error) = 0;
  // Called from another thread when the daemon stops: a read() blocked in a wait of the
  // source's own (e.g. before reconnecting) should return kEnd soon after.
  virtual void interrupt() noexcept {}
  // Frames the source produced that were never read because the reader was late (a camera's
  // buffer overflowing). 0 where the source cannot know.
  virtual std::uint64_t frames_missed() const { return 0; }
  // Times a lost live source was opened again. Any thread may call it.
  virtual std::uint64_t reconnects() const { return 0; }
};

// The first frame's read, as `run` (before it writes anything) and `validate` make it: no frame
// is an InputError (exit 66), with the source's own reason, or naming `description` at an end.
inline void expect_first_frame(Source::Read r, const std::string& error, const std::string& description) {
  if (r == Source::Read::kError) throw InputError(error);
  if (r == Source::Read::kEnd) throw InputError(description + ": no frame to read");
}

// What loaders know when they parse a source section.
struct LoadContext {
  std::string base_dir;  // relative paths are relative to the config file's folder
  std::string resolve(const std::string& path) const;
};

// A parsed, validated source; open() may be called more than once (validate, then run).
struct SourceSpec {
  std::string type;
  std::string description;  // for logs: "file samples/clip.mp4"
  std::string path;         // the file read, if the source is a file
  bool live = false;
  // Opens the source; throws InputError when it cannot be opened or has no frames.
  std::function<std::unique_ptr<Source>()> open;
};

struct SourceInfo {
  std::string name;
  std::string summary;
  std::string example;
  bool hidden = false;
  // Reads the section's keys except "type". Errors go to the reader.
  std::function<SourceSpec(ConfigReader&, const LoadContext&)> parse;
};

using SourceRegistry = NamedRegistry<SourceInfo>;

#define CVPIPE_SOURCE_CONCAT_INNER(a, b) a##b
#define CVPIPE_SOURCE_CONCAT(a, b) CVPIPE_SOURCE_CONCAT_INNER(a, b)
#define CVPIPE_REGISTER_SOURCE(id, name, summary, example, parse_fn)                     \
  namespace {                                                                              \
  [[maybe_unused]] const bool CVPIPE_SOURCE_CONCAT(kRegisteredSource, id) = [] {          \
    ::cvpipe::SourceRegistry::instance().add({name, summary, example, false, parse_fn});  \
    return true;                                                                           \
  }();                                                                                     \
  }

}  // namespace cvpipe
