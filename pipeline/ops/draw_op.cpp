// draw: draws the detections the frame carries (from hog_people, haar_faces, motion, ...): a box
// for each, its class and score above it, and for motion vectors (optical_flow) an arrow from the
// cell's centre. In place.
//
//   - op: draw
//     classes: [face, person]  # the classes to draw; default [] (all)
//     color: [0, 255, 0]       # [B, G, R], each an integer in [0, 255]; default green. On a gray
//                              # frame OpenCV uses the first component as the gray level
//     thickness: 2             # line thickness, integer in [1, 20]; default 2
//     labels: true             # write "class score" above each box; default true
//     font_scale: 0.5          # number in (0, 10]; default 0.5
//     vector_scale: 4          # arrows are this many times the vector's length, number in (0, 1000]; default 4
//
// Boxes are cv::rectangle, labels cv::putText (FONT_HERSHEY_SIMPLEX, LINE_AA), arrows
// cv::arrowedLine. Boxes outside the frame are clipped by OpenCV.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class DrawOp final : public Op {
 public:
  struct Params {
    std::vector<std::string> classes;
    std::array<int, 3> color{0, 255, 0};
    int thickness = 2;
    bool labels = true;
    double font_scale = 0.5;
    double vector_scale = 4;
  };
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader& r) {
    Params p;
    p.classes = r.string_list("classes", {});
    p.color = parse_color(r);
    p.thickness = static_cast<int>(r.integer("thickness", 2, 1, 20));
    p.labels = r.boolean("labels", true);
    p.font_scale = r.positive_number("font_scale", 0.5, 10);
    p.vector_scale = r.positive_number("vector_scale", 4, 1000);
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("draw expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit DrawOp(const Params& p) : p_(p) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    if (out.data != in.data) in.copyTo(out);  // the runner passes the same buffer
    const cv::Scalar color(p_.color[0], p_.color[1], p_.color[2]);
    for (const Detection& d : meta.detections) {
      const std::string_view label = d.label_view();
      if (!p_.classes.empty() && std::find(p_.classes.begin(), p_.classes.end(), label) == p_.classes.end()) continue;
      // Any values: a worker of an earlier stage wrote them. Clamped (in 64 bits) to a frame's
      // size around the frame, which OpenCV draws and clips without overflowing.
      const auto clamp = [](std::int64_t v, int lo, int hi) { return static_cast<int>(std::clamp<std::int64_t>(v, lo, hi)); };
      const int x0 = clamp(d.x, -out.cols, 2 * out.cols), y0 = clamp(d.y, -out.rows, 2 * out.rows);
      const int x1 = clamp(std::int64_t{d.x} + std::max(0, d.w), x0, 2 * out.cols);
      const int y1 = clamp(std::int64_t{d.y} + std::max(0, d.h), y0, 2 * out.rows);
      const cv::Rect box(x0, y0, x1 - x0, y1 - y0);
      if (d.flags & Detection::kHasVector) {
        const cv::Point2f centre(static_cast<float>(box.x) + box.width / 2.f, static_cast<float>(box.y) + box.height / 2.f);
        const float dx = std::clamp(d.dx * static_cast<float>(p_.vector_scale), -1e4f, 1e4f);
        const float dy = std::clamp(d.dy * static_cast<float>(p_.vector_scale), -1e4f, 1e4f);
        if (std::isfinite(dx) && std::isfinite(dy))
          cv::arrowedLine(out, centre, centre + cv::Point2f(dx, dy), color, p_.thickness, cv::LINE_AA, 0, 0.3);
        continue;
      }
      cv::rectangle(out, box, color, p_.thickness);
      if (!p_.labels) continue;
      char text[Detection::kLabelSize + 32];
      std::snprintf(text, sizeof text, "%.*s %.2f", static_cast<int>(label.size()), label.data(),
                    std::isfinite(d.score) ? static_cast<double>(d.score) : 0.0);
      int baseline = 0;
      const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, p_.font_scale, 1, &baseline);
      const int y = box.y - 3 >= size.height ? box.y - 3 : box.y + size.height + 3;  // inside when no room above
      cv::putText(out, text, {box.x, y}, cv::FONT_HERSHEY_SIMPLEX, p_.font_scale, color, 1, cv::LINE_AA);
    }
    return Status::ok();
  }

 private:
  // `color` is a list, which the reader has no getter for; validated here.
  static std::array<int, 3> parse_color(ConfigReader& r) {
    std::array<int, 3> color{0, 255, 0};
    if (r.describing()) {
      r.document("color", "list of 3 integers [B, G, R]", "[0, 255, 0]", "each in [0, 255]", false);
      return color;
    }
    const YAML::Node n = r.raw("color", "a list of 3 integers [B, G, R], each in [0, 255]");
    if (!n.IsDefined()) return color;
    bool good = n.IsSequence() && n.size() == 3;
    for (std::size_t i = 0; good && i < 3; ++i) {
      good = n[i].IsScalar();
      if (!good) break;
      const std::string& s = n[i].Scalar();
      int v = -1;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      good = ec == std::errc() && end == s.data() + s.size() && v >= 0 && v <= 255;
      color[i] = v;
    }
    if (!good) {
      r.fail("color", "expected a list of 3 integers [B, G, R], each in [0, 255]");
      return {0, 255, 0};
    }
    return color;
  }

  Params p_;
};

}  // namespace

CVPIPE_REGISTER_OP(DrawOp, "draw", "draws the detections carried with the frame (boxes, labels, scores, vectors)",
                   "- op: draw\n  classes: [face, person]\n  color: [0, 255, 0]\n  thickness: 2\n  labels: true")

}  // namespace cvpipe
