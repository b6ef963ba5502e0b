#pragma once
// Sinks: where processed frames go. One file per type in pipeline/sinks/<type>_sink.cpp, each
// registering a parser with CVPIPE_REGISTER_SINK.
//
// A Sink is used by the writer thread only; frames reach it in capture order.
#include <opencv2/core.hpp>

#include <functional>
#include <memory>
#include <string>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/core/named_registry.hpp"
#include "pipeline/core/status.hpp"
#include "pipeline/ops/frame.hpp"
#include "pipeline/sources/source.hpp"

namespace cvpipe {

class Sink {
 public:
  virtual ~Sink() = default;
  // Writes one frame of the format given to open(). An error ends the run (exit 73).
  virtual Status write(const cv::Mat& frame, const FrameMeta& meta) = 0;
  // Finalizes the output so it plays (idempotent). Called at the end of every run.
  virtual Status close() = 0;
  virtual std::int64_t frames_written() const = 0;
};

struct SinkSpec {
  std::string type;
  std::string description;  // "video out/default.mp4 (mp4v)"
  std::string path;         // the file written, if one (not a pattern)
  // Why frames of this format cannot be written, or empty.
  std::function<std::string(const FrameFormat&)> check_format;
  // Creates the output; throws OutputError when it cannot.
  std::function<std::unique_ptr<Sink>(const FrameFormat&, double fps)> open;
};

struct SinkInfo {
  std::string name;
  std::string summary;
  std::string example;
  bool hidden = false;
  std::function<SinkSpec(ConfigReader&, const LoadContext&)> parse;
};

using SinkRegistry = NamedRegistry<SinkInfo>;

// Creates the folders above `path` (mkdir -p) and checks this process may write into the last.
// Throws OutputError naming the folder.
void create_parent_dirs(const std::string& path);
// Why 8-bit 1- or 3-channel frames are the only ones an image or video file takes.
std::string require_8bit_1_or_3_channels(const FrameFormat& f);

#define CVPIPE_REGISTER_SINK(id, name, summary, example, parse_fn)                     \
  namespace {                                                                          \
  [[maybe_unused]] const bool CVPIPE_SOURCE_CONCAT(kRegisteredSink, id) = [] {        \
    ::cvpipe::SinkRegistry::instance().add({name, summary, example, false, parse_fn}); \
    return true;                                                                       \
  }();                                                                                 \
  }

}  // namespace cvpipe
