// annotate: writes "#<seq>  <time as HH:MM:SS.mmm>" onto each frame, in place.
//
//   - op: annotate
//     clock: media            # media: the frame's media time; capture: when capture read it (UTC time of day)
//     scale: 1.0              # font scale, number in (0, 100]; default 1
//     thickness: 2            # stroke thickness, integer in [1, 10]; default 2
//     color: [255, 255, 255]  # [B, G, R], each an integer in [0, 255]; default white
//     x: 10                   # text origin (bottom-left of the text), integer in [0, 65535]; default 10
//     y: 30                   # integer in [0, 65535]; default 30
//
// Exactly cv::putText(frame, text, {x, y}, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(b, g, r),
// thickness, cv::LINE_AA). On a 1-channel frame OpenCV uses the first component (b) as the gray
// level. By default the text uses meta.seq and meta.pts_us (media time), so a run is reproducible;
// hours go past 99 rather than wrap, and a negative pts gets a leading '-'. With clock: capture
// it shows the wall-clock time of day (UTC) at which capture read the frame, as the results
// file's captured_at does: a live source's timestamp, different on every run.
#include <opencv2/imgproc.hpp>

#include <array>
#include <charconv>
#include <cstdio>
#include <string>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/core/clock.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

std::string flow_yaml(const YAML::Node& n) {
  YAML::Emitter e;
  e.SetSeqFormat(YAML::Flow);
  e.SetMapFormat(YAML::Flow);
  e << n;
  return e.c_str();
}

class AnnotateOp final : public Op {
 public:
  struct Params {
    double scale = 1.0;
    int thickness = 2;
    std::array<int, 3> color{255, 255, 255};
    int x = 10;
    int y = 30;
    bool capture_clock = false;  // clock: capture
  };
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader& r) {
    Params p;
    p.scale = r.positive_number("scale", 1.0, 100);
    p.thickness = static_cast<int>(r.integer("thickness", 2, 1, 10));
    p.color = parse_color(r);
    p.x = static_cast<int>(r.integer("x", 10, 0, 65535));
    p.y = static_cast<int>(r.integer("y", 30, 0, 65535));
    p.capture_clock = r.choice("clock", "media", {"media", "capture"}) == "capture";
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("annotate expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  // The text drawn for a frame: its number and `ms`, a time in milliseconds.
  static std::string label(const FrameMeta& meta, std::int64_t ms) {
    const std::uint64_t a = ms < 0 ? 0 - static_cast<std::uint64_t>(ms) : static_cast<std::uint64_t>(ms);
    char text[96];
    std::snprintf(text, sizeof text, "#%llu  %s%02llu:%02llu:%02llu.%03llu",
                  static_cast<unsigned long long>(meta.seq), ms < 0 ? "-" : "",
                  static_cast<unsigned long long>(a / 3'600'000), static_cast<unsigned long long>(a / 60'000 % 60),
                  static_cast<unsigned long long>(a / 1000 % 60), static_cast<unsigned long long>(a % 1000));
    return text;
  }

  // capture_ns is CLOCK_MONOTONIC, the same in every process: the offset gives the wall clock.
  explicit AnnotateOp(const Params& p) : p_(p), wall_offset_ns_(wall_clock_offset_ns()) {}

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    if (out.data != in.data) in.copyTo(out);  // the runner passes the same buffer; this is for callers that do not
    std::int64_t ms = meta.pts_us / 1000;
    if (p_.capture_clock) {
      constexpr std::int64_t kDayMs = 86'400'000;
      ms = (wall_clock_ns(meta.capture_ns, wall_offset_ns_) / 1'000'000 % kDayMs + kDayMs) % kDayMs;
    }
    cv::putText(out, label(meta, ms), {p_.x, p_.y}, cv::FONT_HERSHEY_SIMPLEX, p_.scale,
                cv::Scalar(p_.color[0], p_.color[1], p_.color[2]), p_.thickness, cv::LINE_AA);
    return Status::ok();
  }

 private:
  // `color` is a list, which the reader has no getter for; validated here.
  static std::array<int, 3> parse_color(ConfigReader& r) {
    std::array<int, 3> color{255, 255, 255};
    if (r.describing()) {
      r.document("color", "list of 3 integers [B, G, R]", "[255, 255, 255]", "each in [0, 255]", false);
      return color;
    }
    const YAML::Node n = r.raw("color", "a list of 3 integers [B, G, R], each in [0, 255]");
    if (!n.IsDefined()) return color;
    bool good = n.IsSequence() && n.size() == 3;
    for (std::size_t i = 0; good && i < 3; ++i) {
      const YAML::Node item = n[i];
      good = item.IsScalar();
      if (!good) break;
      const std::string& s = item.Scalar();
      int v = -1;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      good = ec == std::errc() && end == s.data() + s.size() && v >= 0 && v <= 255;
      color[i] = v;
    }
    if (!good) {
      r.fail("color", "expected a list of 3 integers [B, G, R], each in [0, 255], got " + flow_yaml(n));
      return {255, 255, 255};
    }
    return color;
  }

  Params p_;
  std::int64_t wall_offset_ns_;  // CLOCK_REALTIME - CLOCK_MONOTONIC
};

}  // namespace

CVPIPE_REGISTER_OP(AnnotateOp, "annotate", "writes the frame number and media (or capture) time onto frames",
                   "- op: annotate\n  scale: 0.8\n  thickness: 2\n  color: [0, 255, 255]\n  x: 10\n  y: 30")

}  // namespace cvpipe
