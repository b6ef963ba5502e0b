#pragma once
// Sink: where processed frames go, as the writer thread writes them. Each type lives in one file of
// a module folder (pipeline/modules/<module>/<type>_sink.cpp) and registers its parser with
// CVPIPE_REGISTER_SINK (pipeline/config/catalog.hpp), which gives the SinkSpec whose open() makes
// one of these.
//
// A Sink is used by the writer thread only; frames reach it in capture order.
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>

#include "pipeline/config/catalog.hpp"
#include "pipeline/core/frame.hpp"
#include "pipeline/core/status.hpp"

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

// For sinks that write files. Creates the folders above `path` (mkdir -p) and checks this process
// may write into the last. Throws OutputError naming the folder.
void create_parent_dirs(const std::string& path);
// Why this process could not create `path` (a file to write): "" when it can. The folders above
// it that exist must be folders, and the deepest that exists writable (the rest is made by
// create_parent_dirs()). Creates nothing: what validate and run check before they start. Names
// the folders by their absolute paths.
std::string output_folder_problem(const std::string& path);
// Why 8-bit 1- or 3-channel frames are the only ones an image or video file takes.
std::string require_8bit_1_or_3_channels(const FrameFormat& f);

}  // namespace cvpipe
