#pragma once
// InlineStages (`run --inline`): every stage's ops run in the capture thread, one frame at a time,
// through the same OpChain a worker runs on the same slot buffers: the sequential baseline, whose
// output is byte for byte that of the workers.
//
// Constructed and run on the capture thread. run() never throws.
#include <cstdint>
#include <memory>
#include <vector>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/ops/op_chain.hpp"
#include "pipeline/runtime/run_stats.hpp"
#include "pipeline/runtime/segment.hpp"

namespace cvpipe {

class InlineStages {
 public:
  // Opens every stage's ops and sets OpenCV's threads to the most any stage asks for (1 by
  // default). Throws std::runtime_error naming the stage whose ops cannot open.
  InlineStages(const PipelineConfig& config, Segment& segment, RunStats& stats);

  // Runs every stage on the frame in `slot`; the reason it is dropped, or kNone. The slot's header
  // then says where the result is and its format, as a worker leaves it.
  DropReason run(std::uint32_t slot);

 private:
  const PipelineConfig& config_;
  Segment& segment_;
  RunStats& stats_;
  std::vector<std::unique_ptr<OpChain>> chains_;
};

}  // namespace cvpipe
