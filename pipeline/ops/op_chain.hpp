#pragma once
// OpChain: one stage's ops, instantiated and opened, run frame by frame on a slot's buffers.
//
// Every op's process() goes through the same runner: it times the op, catches cv::Exception and
// std::exception, and checks that the op wrote into the buffer it was given, in the format that
// output_format() promised (rather than reallocating). An op that is not in place reads one of
// the slot's two buffers and writes the other; an in-place op gets the same Mat twice.
//
// Owned and used by one thread. run() never throws and allocates only to report an error.
#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/core/status.hpp"
#include "pipeline/ops/op.hpp"

namespace cvpipe {

class OpChain {
 public:
  // Creates every op and computes the format after each; throws std::runtime_error if a format
  // does not fit (resolve() has already rejected such configs).
  OpChain(const std::vector<OpEntry>& ops, const FrameFormat& input);
  ~OpChain();
  OpChain(const OpChain&) = delete;
  OpChain& operator=(const OpChain&) = delete;

  // Calls every op's open(); on failure nothing else may run.
  Status open();
  void close();

  // Runs the chain on a frame in buffers[current]. On return `current` names the buffer holding
  // the result, of format output(). If `input_intact` is given, 0 is stored into it (release)
  // just before an op first writes into the buffer that held the input: until then, the input
  // is still there to run the chain on again.
  Status run(std::uint8_t* const buffers[2], int& current, FrameMeta& meta, std::uint32_t* input_intact = nullptr);

  const FrameFormat& input() const noexcept { return input_; }
  const FrameFormat& output() const noexcept { return formats_.back(); }
  std::size_t size() const noexcept { return ops_.size(); }

 private:
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<bool> in_place_;
  std::vector<FrameFormat> formats_;  // formats_[i] is op i's input; back() the chain's output
  FrameFormat input_;
  bool opened_ = false;
};

}  // namespace cvpipe
