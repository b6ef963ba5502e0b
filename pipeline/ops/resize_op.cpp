// resize: scales each frame to a fixed size, or by a factor.
//
//   - op: resize
//     width: 320            # integer in [1, 65536]; with height
//     height: 240           # integer in [1, 65536]; with width
//     # scale: 0.5          # instead of width + height: number > 0, for both sides
//     interpolation: area   # nearest | linear | area | cubic | lanczos4; default area
//
// Exactly cv::resize(in, out, Size(width, height), 0, 0, interpolation), or with scale exactly
// cv::resize(in, out, Size(), scale, scale, interpolation): each side is OpenCV's
// saturate_cast<int>(side * scale) (rounded to nearest, halves to even) and the pixels are mapped
// by the factor itself. A scale that leaves a side empty is a config error, as it is an
// exception in OpenCV. The detections the frame carries are scaled with it (boxes rounded
// outwards, vectors scaled).
// Either width and height, or scale, is required: `- op: resize` alone is an error.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

constexpr int kMaxSide = 65536;

class ResizeOp final : public Op {
 public:
  struct Params {
    bool by_scale = false;
    int width = 1;
    int height = 1;
    double scale = 1.0;
    int interpolation = cv::INTER_AREA;
  };
  static constexpr bool kInPlace = false;

  static Params parse(ConfigReader& r) {
    Params p;
    const auto width = r.optional_integer("width", 1, kMaxSide);
    const auto height = r.optional_integer("height", 1, kMaxSide);
    const auto scale = r.optional_number("scale", 0);
    if (r.describing()) {
      // The reader documents each key alone; these go in pairs (and its bounds are inclusive).
      for (ParamDoc& d : r.diagnostics().docs()) {
        if (d.key == "width") d.constraint += "; with height";
        if (d.key == "height") d.constraint += "; with width";
        if (d.key == "scale") d.constraint = "> 0; instead of width and height";
      }
    }
    const std::string interpolation =
        r.choice("interpolation", "area", {"nearest", "linear", "area", "cubic", "lanczos4"});
    if (interpolation == "nearest") p.interpolation = cv::INTER_NEAREST;
    if (interpolation == "linear") p.interpolation = cv::INTER_LINEAR;
    if (interpolation == "cubic") p.interpolation = cv::INTER_CUBIC;
    if (interpolation == "lanczos4") p.interpolation = cv::INTER_LANCZOS4;
    if (r.describing()) return p;

    // Presence, not validity, decides the form, so a bad value is reported once, by its reader.
    const bool has_width = r.has("width"), has_height = r.has("height"), has_scale = r.has("scale");
    if (has_scale && (has_width || has_height)) {
      r.fail("scale", "expected either width and height, or scale, not both");
    } else if (has_scale) {
      p.by_scale = true;
      if (scale && *scale <= 0) r.fail("scale", "expected a number > 0, got " + r.raw("scale", "a number").Scalar());
      p.scale = scale.value_or(1.0);
    } else if (has_width != has_height) {
      r.fail(has_width ? "height" : "width",
             has_width ? "expected height with width (or scale alone)"
                       : "expected width with height (or scale alone)");
    } else if (!has_width) {
      r.fail_here("expected width and height, or scale");
    } else {
      p.width = static_cast<int>(width.value_or(1));
      p.height = static_cast<int>(height.value_or(1));
    }
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params& p) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("resize expects 8-bit 1- or 3-channel input, got " + in.describe());
    if (!p.by_scale) return FormatResult::ok({p.width, p.height, in.type});
    // As cv::resize computes the size from the factor.
    const double w = in.width * p.scale, h = in.height * p.scale;
    std::ostringstream why;
    why << "resize by scale " << p.scale << " makes " << in.describe();
    if (w > kMaxSide || h > kMaxSide) {
      why << " larger than " << kMaxSide << " on a side";
      return FormatResult::fail(why.str());
    }
    const int width = cv::saturate_cast<int>(w), height = cv::saturate_cast<int>(h);
    if (width < 1 || height < 1) {
      why << " " << width << "x" << height << ": no pixels left on a side";
      return FormatResult::fail(why.str());
    }
    return FormatResult::ok({width, height, in.type});
  }

  explicit ResizeOp(const Params& p) : p_(p) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    double fx = p_.scale, fy = p_.scale;
    if (p_.by_scale) {
      cv::resize(in, out, cv::Size(), fx, fy, p_.interpolation);  // out already has the size it computes
    } else {
      cv::resize(in, out, out.size(), 0, 0, p_.interpolation);
      fx = static_cast<double>(out.cols) / in.cols;
      fy = static_cast<double>(out.rows) / in.rows;
    }
    const auto to_int = [](double v) { return static_cast<int>(std::clamp(v, -1e9, 1e9)); };
    for (Detection& d : meta.detections) {
      const double x0 = std::floor(d.x * fx), y0 = std::floor(d.y * fy);
      const double x1 = std::ceil((static_cast<double>(d.x) + d.w) * fx), y1 = std::ceil((static_cast<double>(d.y) + d.h) * fy);
      d.x = to_int(x0);
      d.y = to_int(y0);
      d.w = to_int(x1 - x0);
      d.h = to_int(y1 - y0);
      d.dx = static_cast<float>(d.dx * fx);
      d.dy = static_cast<float>(d.dy * fy);
    }
    return Status::ok();
  }

 private:
  Params p_;
};

}  // namespace

CVPIPE_REGISTER_OP(ResizeOp, "resize", "scales frames to width x height, or by a factor",
                   "- op: resize\n  width: 320\n  height: 240\n  interpolation: area")

}  // namespace cvpipe
