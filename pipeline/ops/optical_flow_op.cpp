// optical_flow: dense optical flow (Farneback) between the previous frame and this one, summarised
// as one motion vector per cell of a grid: each cell whose mean flow is at least min_magnitude
// pixels adds a detection whose box is the cell and whose dx, dy are the mean displacement (pixels
// per frame). The frame's pixels are left as they are.
//
//   - op: optical_flow
//     grid: [8, 6]           # cells across and down, each in [1, 64], at most 64 cells; default [8, 6]
//     min_magnitude: 1       # shorter mean vectors are left out, number in [0, 1000]; default 1
//     pyr_scale: 0.5         # Farneback's parameters, as in cv::calcOpticalFlowFarneback:
//     levels: 3              #   pyramid scale (0, 1), levels [1, 10], window [3, 101],
//     winsize: 15            #   iterations [1, 50], poly_n 5 or 7, poly_sigma (0, 10];
//     iterations: 3          #   defaults 0.5, 3, 15, 3, 5, 1.2
//     poly_n: 5
//     poly_sigma: 1.2
//     label: flow            # class of the vectors, 1-15 characters; default flow
//
// Stateful: its stage runs one worker that sees the frames in order, and keeps the previous frame
// (gray). The first frame after a (re)start has no previous one and gives no vectors. A vector's
// score is its length in pixels.
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include <cmath>
#include <string>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class OpticalFlowOp final : public Op {
 public:
  struct Params {
    std::pair<int, int> grid{8, 6};
    double min_magnitude = 1;
    double pyr_scale = 0.5;
    int levels = 3;
    int winsize = 15;
    int iterations = 3;
    int poly_n = 5;
    double poly_sigma = 1.2;
    std::string label = "flow";
  };
  static constexpr bool kInPlace = true;
  static constexpr bool kOrdered = true;

  static Params parse(ConfigReader& r) {
    Params p;
    p.grid = r.integer_pair("grid", {8, 6}, 1, 64);
    p.min_magnitude = r.number("min_magnitude", 1, 0, 1000);
    p.pyr_scale = r.number("pyr_scale", 0.5, 0, 1);
    p.levels = static_cast<int>(r.integer("levels", 3, 1, 10));
    p.winsize = static_cast<int>(r.integer("winsize", 15, 3, 101));
    p.iterations = static_cast<int>(r.integer("iterations", 3, 1, 50));
    p.poly_n = static_cast<int>(r.integer("poly_n", 5, 5, 7));
    p.poly_sigma = r.positive_number("poly_sigma", 1.2, 10);
    p.label = r.string("label", "flow");
    if (r.describing()) {
      r.document_rule("grid", "at most " + std::to_string(Detections::kCapacity) + " cells");
      r.document_rule("pyr_scale", "not 0 or 1");
      r.document_rule("poly_n", "5 or 7");
      r.document_rule("label", "1-15 characters");
      return p;
    }
    if (p.grid.first * p.grid.second > static_cast<int>(Detections::kCapacity))
      r.fail("grid", "expected at most " + std::to_string(Detections::kCapacity) + " cells (what a frame carries), got " +
                         std::to_string(p.grid.first) + " x " + std::to_string(p.grid.second));
    if ((p.pyr_scale <= 0 || p.pyr_scale >= 1) && r.has("pyr_scale"))
      r.fail("pyr_scale", "expected a number in (0, 1), got " + r.raw("pyr_scale", "a number").Scalar());
    if (p.poly_n == 6) r.fail("poly_n", "expected 5 or 7, got 6");
    if (p.label.empty() || p.label.size() >= Detection::kLabelSize)
      r.fail("label", "expected 1 to " + std::to_string(Detection::kLabelSize - 1) + " characters, got \"" + p.label + "\"");
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params& p) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("optical_flow expects 8-bit 1- or 3-channel input, got " + in.describe());
    if (in.width < p.grid.first || in.height < p.grid.second)
      return FormatResult::fail("optical_flow's grid of " + std::to_string(p.grid.first) + " x " +
                                std::to_string(p.grid.second) + " cells does not fit a " + in.describe() + " frame");
    return FormatResult::ok(in);
  }

  explicit OpticalFlowOp(const Params& p) : p_(p) {}

  Status open() override {
    previous_.release();
    return Status::ok();
  }

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    if (out.data != in.data) in.copyTo(out);  // the runner passes the same buffer
    if (in.channels() == 3) cv::cvtColor(in, gray_, cv::COLOR_BGR2GRAY);
    else in.copyTo(gray_);
    if (!previous_.empty() && previous_.size() == gray_.size()) {
      cv::calcOpticalFlowFarneback(previous_, gray_, flow_, p_.pyr_scale, p_.levels, p_.winsize, p_.iterations,
                                   p_.poly_n, p_.poly_sigma, 0);
      const int cols = p_.grid.first, rows = p_.grid.second;
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
          const int x0 = in.cols * c / cols, x1 = in.cols * (c + 1) / cols;
          const int y0 = in.rows * r / rows, y1 = in.rows * (r + 1) / rows;
          const cv::Rect cell(x0, y0, x1 - x0, y1 - y0);
          const cv::Scalar mean = cv::mean(flow_(cell));
          const double length = std::hypot(mean[0], mean[1]);
          if (length < p_.min_magnitude) continue;
          meta.detections.add_vector(p_.label, cell.x, cell.y, cell.width, cell.height, static_cast<float>(length),
                                     static_cast<float>(mean[0]), static_cast<float>(mean[1]));
        }
      }
    }
    cv::swap(previous_, gray_);
    return Status::ok();
  }

 private:
  Params p_;
  cv::Mat previous_, gray_, flow_;
};

}  // namespace

CVPIPE_REGISTER_OP(OpticalFlowOp, "optical_flow",
                   "dense Farneback optical flow, summarised as motion vectors per grid cell (stateful)",
                   "- op: optical_flow\n  grid: [8, 6]\n  min_magnitude: 1.5\n  winsize: 15")

}  // namespace cvpipe
