#pragma once
// Writer: the writer thread's loop. Takes each frame the pipeline is done with (to write, or
// dropped for a reason), in whatever order they finish, puts them back in the order they entered
// the pipeline (ReorderBuffer), and writes each: the preview (if someone watches), the sink, the
// results file; then frees its slot for capture. Every frame read is either written or counted
// under one drop reason here.
//
// A frame's format and buffer come from its slot header, which a worker wrote: they are checked
// against the chain's output before the frame is read. An output that fails ends the run
// (exit 73): the frames after it are dropped as aborted, and the sink is still closed.
//
// deliver() and end() from any thread (router, capture); run() on the writer thread, which owns the
// sink and the results file while it runs. Never allocates per frame, but to log.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <blockingconcurrentqueue.h>

#include "pipeline/core/frame.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/handoff.hpp"
#include "pipeline/runtime/http_endpoint.hpp"
#include "pipeline/runtime/results_writer.hpp"
#include "pipeline/runtime/run_stats.hpp"
#include "pipeline/runtime/segment.hpp"
#include "pipeline/runtime/sink.hpp"

namespace cvpipe {

class Writer {
 public:
  struct Outputs {
    Sink* sink = nullptr;             // required
    ResultsWriter* results = nullptr;  // results.path, if given
    HttpEndpoint* http = nullptr;      // for the preview, if http is on
  };

  // `fatal` ends the run with an exit code and a one-line message (an output error).
  Writer(FrameFormat output_format, Segment& segment, SlotQueue& free_slots, const SlotOrder& order,
         FirstFrameOut& first_out, RunStats& stats, std::function<void(int, const std::string&)> fatal);

  // The frame in `slot` is done: to write, or dropped for `reason`.
  void deliver(std::uint32_t slot, DropReason reason);
  // No frame comes after those delivered so far.
  void end();

  // The loop, until end() and every frame before it are written. `outputs` outlive it.
  void run(const Outputs& outputs);

 private:
  struct Item {
    std::uint32_t slot = kNoSlot;  // kNoSlot: the end
    DropReason reason = DropReason::kNone;
  };
  void write_one(const Item& item, const Outputs& outputs);

  FrameFormat output_format_;
  Segment& segment_;
  SlotQueue& free_slots_;
  const SlotOrder& order_;
  FirstFrameOut& first_out_;
  RunStats& stats_;
  std::function<void(int, const std::string&)> fatal_;
  moodycamel::BlockingConcurrentQueue<Item> queue_;
  bool first_out_set_ = false;  // writer thread
  bool output_failed_ = false;  // writer thread
  std::shared_ptr<spdlog::logger> log_ = get_logger("writer");
};

}  // namespace cvpipe
