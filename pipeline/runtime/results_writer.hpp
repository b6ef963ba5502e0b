#pragma once
// ResultsWriter: the results file (`results: {path: ...}`): JSON Lines, one object per frame
// written, in frame order, beside the frame sink:
//
//   {"seq":12,"pts_ms":480.000,"captured_at":"2026-11-22T09:31:00.123Z","detections":[
//    {"class":"face","x":40,"y":32,"w":64,"h":64,"score":7}],"overflow":0}
//
// Each line goes out in one write(2) as the frame is written: nothing is held back, so whatever
// way the run ends (end of input, a signal, a fatal error, a kill), the file holds one complete
// line per frame written up to then. A write that fails (a full disk) is undone to the last
// complete line and ends the run (exit 73), as does the file being removed meanwhile.
//
// Used by the writer thread only. write() allocates only while a line outgrows the longest so far.
#include <cstdint>
#include <memory>
#include <string>

#include "pipeline/core/status.hpp"
#include "pipeline/core/frame.hpp"

namespace cvpipe {

class ResultsWriter {
 public:
  // `path` "-" writes to stdout. Creates the folders above the file. Throws OutputError.
  static std::unique_ptr<ResultsWriter> open(const std::string& path);
  ~ResultsWriter();
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  Status write(const FrameMeta& meta);
  // Closes the file (idempotent); an error if it was removed while written.
  Status close();
  const std::string& path() const noexcept { return path_; }

  // One frame's line, without the newline (tests). `wall_offset_ns` turns capture_ns
  // (CLOCK_MONOTONIC) into CLOCK_REALTIME.
  static void format_line(const FrameMeta& meta, std::int64_t wall_offset_ns, std::string& out);

 private:
  ResultsWriter(int fd, std::string path, bool is_stdout);
  int fd_ = -1;
  std::string path_;
  bool stdout_ = false;
  std::int64_t wall_offset_ns_ = 0;
  std::uint64_t bytes_ = 0;  // written so far: complete lines
  std::string line_;
};

}  // namespace cvpipe
