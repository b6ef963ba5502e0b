#pragma once
// The op contract (mediapipe's calculator contract): open() once per worker, then process() per
// frame, then close(). A worker never calls one op concurrently. If open() fails nothing else runs.
//
// Everything about an op lives in pipeline/ops/<name>_op.cpp: its Params and parse(), the rule
// that gives its output format from its input format, process(), a YAML example and its
// registration. Adding an op touches no other file.
//
//   class GaussianBlurOp final : public Op {
//    public:
//     struct Params { int ksize; double sigma; };
//     static constexpr bool kInPlace = false;     // true: process() gets out aliasing in
//     static constexpr bool kOrdered = false;     // optional; true: keeps state from frame to frame
//     static Params parse(ConfigReader& r);        // every check happens here, at load time
//     static FormatResult output_format(const FrameFormat& in, const Params&);
//     explicit GaussianBlurOp(const Params& p) : p_(p) {}
//     Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override;
//    private:
//     Params p_;
//   };
//   CVPIPE_REGISTER_OP(GaussianBlurOp, "gaussian_blur", "Gaussian smoothing", R"(
//   - op: gaussian_blur
//     ksize: 15      # odd, >= 1
//   )");
//
// An op that keeps state from one frame to the next (background models, the previous frame) sets
// kOrdered: the stage that holds it then runs one worker, which gets the stage's frames in capture
// order (frames dropped on the way are skipped). Its state lives in its worker process, so it
// starts over when that worker is restarted.
//
// Results (detections, regions, vectors) go into meta.detections, which travels with the frame to
// later ops and to the results file.
//
// process() must write into `out` as given: the runner hands it a header over shared memory of
// exactly the op's output format and rejects a reallocated result (cv::Mat::create keeps the buffer
// when size and type match, so cv:: functions that take an OutputArray write in place).
#include <opencv2/core.hpp>

#include <functional>
#include <memory>
#include <string>

#include "pipeline/config/catalog.hpp"
#include "pipeline/core/frame.hpp"
#include "pipeline/core/status.hpp"

namespace cvpipe {

class Op {
 public:
  virtual ~Op() = default;
  virtual Status open() { return Status::ok(); }
  virtual Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) = 0;
  virtual void close() {}
};

}  // namespace cvpipe
