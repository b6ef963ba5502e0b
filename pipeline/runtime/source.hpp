#pragma once
// Source: where frames come from, as the capture thread reads them. Each type lives in one file of
// a module folder (pipeline/modules/<module>/<type>_source.cpp) and registers its parser with
// CVPIPE_REGISTER_SOURCE (pipeline/config/catalog.hpp), which gives the SourceSpec whose open()
// makes one of these; adding a type touches no other file.
//
// A Source is used by the capture thread only. read() decodes straight into the memory it is given
// (a header over a shared-memory slot of exactly format()), so frames are not copied on the way in.
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>

#include "pipeline/config/catalog.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/core/frame.hpp"

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
  // The pipeline holds `committed` bytes of a budget of `budget` (memory_budget.hpp): a source that
  // allocates buffers later (a reconnected stream whose frames changed size) keeps within what is
  // left, and fails the read when it cannot. Called once the slots are sized.
  virtual void reserve_memory(std::uint64_t /*committed*/, std::uint64_t /*budget*/) {}
};

// The first frame's read, as `run` (before it writes anything) and `validate` make it: no frame
// is an InputError (exit 66), with the source's own reason, or naming `description` at an end.
void expect_first_frame(Source::Read r, const std::string& error, const std::string& description);

}  // namespace cvpipe
