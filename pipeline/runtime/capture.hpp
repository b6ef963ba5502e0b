#pragma once
// Capture: the capture thread's loop. Reads the source straight into free slots of the segment and
// hands each frame to the pipeline, numbered in the order it enters.
//
// Under `block` (the default for files) it waits for a free slot before reading: back-pressure
// reaches the source and nothing is lost. Under a drop policy (the default for live sources) the
// source is read whether or not a slot is free, since a live source cannot wait: a frame with no
// slot is dropped (drop_newest), or held and copied into the next slot that frees, the older held
// frame dropped (drop_oldest); either counts as queue_full.
//
// A source with no clock (a file; synthetic at pace: max) has its first frame read before the
// thread starts (read_first_frame(), while the workers start), and until that frame is out the
// capture reads no further: the frame is alone in the pipeline, and each worker it meets runs its
// ops on every core.
//
// run() is the capture thread's; read_first_frame() the main thread's before it starts; stop() and
// finished() any thread's. Allocates only when it starts (the spare frames of a drop policy).
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/handoff.hpp"
#include "pipeline/runtime/run_stats.hpp"
#include "pipeline/runtime/segment.hpp"
#include "pipeline/runtime/source.hpp"

namespace cvpipe {

class Capture {
 public:
  struct Options {
    FrameFormat format;                       // the source's frames: each slot's first buffer
    std::string description;                  // the source's, for errors (SourceSpec::description)
    DropPolicy policy = DropPolicy::kBlock;   // when no slot is free for the next frame
    bool hold_back_until_first_out = false;   // see above (workers, a source with no clock)
    std::uint32_t first_frame_threads = 0;    // OpenCV threads for the first frame's ops; 0: the stages'
  };
  struct Hooks {
    // The frame in `slot` (its header filled in) goes to the pipeline.
    std::function<void(std::uint32_t slot)> hand_over;
    // The source failed after `frames` frames: the run ends with exit code 66 once what is in
    // flight is written.
    std::function<void(const std::string& error)> input_failed;
    // Capture is over; finished() now tells how many frames entered the pipeline.
    std::function<void()> done;
  };

  Capture(Options options, Source& source, Segment& segment, SlotQueue& free_slots, SlotOrder& order,
          FirstFrameOut& first_out, RunStats& stats, Hooks hooks);

  // Reads frame 0 into slot kFirstFrameSlot, to be handed over first by run(). Throws InputError
  // (exit 66) when it cannot be decoded, before anything is written.
  void read_first_frame();
  static constexpr std::uint32_t kFirstFrameSlot = 0;
  bool has_first_frame() const noexcept { return first_frame_.has_value(); }

  // The loop, until the source ends, fails, or stop().
  void run();
  // No more frames are read; a read blocked in the source returns soon (Source::interrupt).
  void stop() noexcept;
  // True once run() has ended, with the number of frames that entered the pipeline.
  bool finished(std::uint64_t& entered) const noexcept;

 private:
  Source::Read read(cv::Mat& into, std::uint64_t seq, FrameMeta& meta, std::string& error);
  // Fills the slot's header for the frame and hands it over.
  void enter(std::uint32_t slot, const FrameMeta& meta, std::uint32_t opencv_threads = 0);
  cv::Mat slot_frame(std::uint32_t slot) const;

  Options options_;
  Source& source_;
  Segment& segment_;
  SlotQueue& free_slots_;
  SlotOrder& order_;
  FirstFrameOut& first_out_;
  RunStats& stats_;
  Hooks hooks_;
  std::optional<FrameMeta> first_frame_;
  std::uint64_t entered_ = 0;  // capture thread; published by finished_
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::shared_ptr<spdlog::logger> log_ = get_logger("capture");
};

}  // namespace cvpipe
