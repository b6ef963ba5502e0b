// synthetic: a generated moving pattern with the frame number drawn in. Deterministic: frame N is
// the same in every run. With pace: realtime frames arrive on a clock, like a camera's: each is
// stamped with the time it was due, and a reader more than `buffer` frames late loses the older
// ones (counted as frames_missed_by_source).
//   source:
//     type: synthetic
//     width: 640
//     height: 480
//     fps: 30
//     frames: 300         # how many frames, then the source ends
//     pace: realtime      # realtime: on the fps clock | max (default): as fast as the pipeline takes them
//     buffer: 4           # realtime only: frames held for a late reader; older ones are lost
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "pipeline/runtime/source.hpp"

namespace cvpipe {
namespace {

struct SyntheticParams {
  int width, height;
  double fps;
  std::int64_t frames;
  bool realtime;
  std::int64_t buffered;  // frames held for a late reader (pace: realtime)
};

class SyntheticSource final : public Source {
 public:
  explicit SyntheticSource(const SyntheticParams& p) : p_(p) {
    // A noisy gradient twice as wide as the frame; each frame shows a window moving across it,
    // so frames differ everywhere without the cost of drawing every pixel.
    background_.create(p_.height, p_.width * 2, CV_8UC3);
    cv::RNG rng(12345);
    for (int y = 0; y < background_.rows; ++y) {
      auto* row = background_.ptr<cv::Vec3b>(y);
      for (int x = 0; x < background_.cols; ++x) {
        const int noise = rng.uniform(-12, 13);
        row[x] = cv::Vec3b(cv::saturate_cast<uchar>((x * 255) / background_.cols + noise),
                           cv::saturate_cast<uchar>((y * 255) / std::max(1, background_.rows) + noise),
                           cv::saturate_cast<uchar>(128 + 100 * std::sin(x * 0.05) + noise));
      }
    }
  }

  FrameFormat format() const override { return {p_.width, p_.height, CV_8UC3}; }
  double fps() const override { return p_.fps; }
  std::int64_t frame_count() const override { return p_.frames; }
  std::uint64_t frames_missed() const override { return missed_.load(std::memory_order_relaxed); }

  Read read(cv::Mat& into, FrameMeta& meta, std::string&) override {
    using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as capture_ns
    if (next_ >= p_.frames) return Read::kEnd;
    if (next_ == 0) start_ = Clock::now();  // the clock starts with the first read
    if (p_.realtime) {
      // Frame n is captured at start + n / fps whether or not anyone reads it; like a camera,
      // the source holds the last `buffer` frames, and a reader later than that loses the older ones.
      const auto due = [&](std::int64_t n) {
        return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(n / p_.fps));
      };
      const auto latest = std::min(
          p_.frames - 1, static_cast<std::int64_t>(std::chrono::duration<double>(Clock::now() - start_).count() * p_.fps));
      if (latest - next_ >= p_.buffered) {
        const std::int64_t oldest_kept = latest - p_.buffered + 1;
        missed_.fetch_add(static_cast<std::uint64_t>(oldest_kept - next_), std::memory_order_relaxed);
        next_ = oldest_kept;
      }
      std::this_thread::sleep_until(due(next_));
      meta.capture_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(due(next_).time_since_epoch()).count();
    }
    const std::int64_t n = next_++;
    const int shift = static_cast<int>((n * 4) % p_.width);
    background_(cv::Rect(shift, 0, p_.width, p_.height)).copyTo(into);
    const int size = std::max(4, std::min(p_.width, p_.height) / 6);
    const int x = static_cast<int>((n * 7) % std::max(1, p_.width - size));
    const int y = static_cast<int>((n * 5) % std::max(1, p_.height - size));
    cv::rectangle(into, cv::Rect(x, y, size, size), cv::Scalar(40, 220, 255), cv::FILLED);
    const double font = std::max(0.4, p_.height / 480.0);
    cv::putText(into, std::to_string(n), cv::Point(8, static_cast<int>(40 * font)), cv::FONT_HERSHEY_SIMPLEX,
                font, cv::Scalar(255, 255, 255), std::max(1, static_cast<int>(2 * font)));
    meta.pts_us = static_cast<std::int64_t>(std::llround(n * 1e6 / p_.fps));
    return Read::kFrame;
  }

 private:
  SyntheticParams p_;
  cv::Mat background_;
  std::int64_t next_ = 0;
  std::atomic<std::uint64_t> missed_{0};  // read by the stats line
  std::chrono::steady_clock::time_point start_;
};

SourceSpec parse_synthetic_source(ConfigReader& r) {
  SyntheticParams p;
  p.width = static_cast<int>(r.integer("width", 640, 16, 7680));
  p.height = static_cast<int>(r.integer("height", 480, 16, 4320));
  p.fps = r.number("fps", 30, 0.1, 1000);
  p.frames = r.integer("frames", 300, 1);
  p.realtime = r.choice("pace", "max", {"max", "realtime"}) == "realtime";
  p.buffered = r.integer("buffer", 4, 1, 100'000);  // 4: what OpenCV asks a V4L2 camera for
  // Only when pace and buffer are each good: a bad pace reads as max, a bad buffer has its error.
  const ConfigDiagnostics& diag = r.diagnostics();
  if (!p.realtime && r.has("buffer") && !diag.has_errors_under(r.key_path("pace")) &&
      !diag.has_errors_under(r.key_path("buffer")))
    r.fail("buffer", "only applies with pace: realtime (pace is max: each frame is made when the pipeline takes it, "
                     "none wait)");
  SourceSpec spec;
  spec.type = "synthetic";
  spec.live = p.realtime;
  spec.description = "synthetic " + std::to_string(p.width) + "x" + std::to_string(p.height) + " " +
                     std::to_string(p.frames) + " frames" + (p.realtime ? " paced" : "");
  spec.open = [p](const SourceLimits& limits) -> std::unique_ptr<Source> {
    if (static_cast<std::int64_t>(p.width) * p.height > limits.max_frame_pixels)
      throw InputError("synthetic frames of " + std::to_string(p.width) + "x" + std::to_string(p.height) +
                       " are more than " + std::to_string(limits.max_frame_pixels) +
                       " pixels (limits.max_frame_pixels)");
    return std::make_unique<SyntheticSource>(p);
  };
  return spec;
}

}  // namespace

CVPIPE_REGISTER_SOURCE(Synthetic, "synthetic", "a generated moving pattern with the frame number drawn in",
                       "type: synthetic\nwidth: 640\nheight: 480\nfps: 30\nframes: 300\npace: realtime   # or max\n"
                       "buffer: 4    # realtime only: frames held for a late reader, older ones are lost",
                       parse_synthetic_source)

}  // namespace cvpipe
