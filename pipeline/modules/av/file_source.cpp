// file: decodes a video file with FFmpeg, as OpenCV's FFmpeg backend does (av_decoder.hpp).
//   source:
//     type: file
//     path: samples/clip.mp4     # relative to the config file
//     loop: false                # true: start again at the end, forever (media time keeps increasing)
//     threads: 0                 # the decoder's threads; 0: one per core
//     start: 0                   # seconds into the video (or start_frame: N) where each pass begins
//     max_frames: 0              # at most this many frames in all (or duration: seconds); 0: no limit
//     pace: max                  # realtime: no faster than the video's own clock, as a camera (ffmpeg -re)
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/modules/av/av_decoder.hpp"
#include "pipeline/modules/av/packet_probe.hpp"
#include "pipeline/runtime/source.hpp"

namespace cvpipe {
namespace {

// Which frames of the file are read, and how fast.
struct FileWindow {
  std::int64_t start_frame = 0;  // each pass starts at this frame ...
  double start_s = 0;            // ... or at the first frame this many seconds in
  std::int64_t max_frames = 0;   // frames in all; 0: no limit
  double duration_s = 0;         // media seconds in all; 0: no limit
  bool realtime = false;         // no faster than the media's clock
};

class FileSource final : public Source {
 public:
  FileSource(const std::string& path, bool loop, int threads, const SourceLimits& limits, const FileWindow& window)
      : path_(path), loop_(loop), threads_(threads), limits_(limits), window_(window) {
    format_ = open_file();
    fps_ = decoder_->fps();
    if (!(fps_ > 0 && fps_ < 1000)) fps_ = 25;
    frame_count_ = decoder_->frame_count();
  }

  FrameFormat format() const override { return format_; }
  double fps() const override { return fps_; }
  // Looping, the file never ends (unless a limit ends it).
  std::int64_t frame_count() const override {
    std::int64_t limit = window_.max_frames > 0 ? window_.max_frames : -1;
    if (window_.duration_s > 0) {
      const auto by_time = static_cast<std::int64_t>(std::ceil(window_.duration_s * fps_ - 1e-9));
      limit = limit < 0 ? by_time : std::min(limit, by_time);
    }
    if (loop_ || frame_count_ < 0) return limit;
    const std::int64_t skipped =
        window_.start_frame > 0 ? window_.start_frame : static_cast<std::int64_t>(std::ceil(window_.start_s * fps_ - 1e-9));
    const std::int64_t left = std::max<std::int64_t>(frame_count_ - skipped, 0);
    return limit < 0 ? left : std::min(limit, left);
  }
  void interrupt() noexcept override { interrupted_.store(true); }

  // The frames of the window, each at its time when paced.
  Read read(cv::Mat& into, FrameMeta& meta, std::string& error) override {
    if (window_.max_frames > 0 && handed_out_ >= window_.max_frames) return Read::kEnd;
    for (;;) {
      const Read r = read_file(into, meta, error);
      if (r != Read::kFrame) return r;
      if (pass_frames_ == 1) {
        // A pass of a looped file that gave nothing: the window starts past its end.
        if (passes_++ > 0 && handed_in_pass_ == 0) {
          error = path_ + ": each pass of the loop ends before its start (source." +
                  (window_.start_frame > 0 ? "start_frame" : "start") + ")";
          return Read::kError;
        }
        handed_in_pass_ = 0;
        pass_first_file_pts_ = meta.pts_us - pts_offset_us_;
      }
      // Before the start of this pass's window: decoded, and passed over.
      if (window_.start_frame > 0 && pass_frames_ <= window_.start_frame) continue;
      if (window_.start_s > 0 && meta.pts_us - pts_offset_us_ - pass_first_file_pts_ < std::llround(window_.start_s * 1e6) - 500)
        continue;
      break;
    }
    if (handed_out_ == 0) first_handed_pts_ = meta.pts_us;
    if (window_.duration_s > 0 && meta.pts_us - first_handed_pts_ >= std::llround(window_.duration_s * 1e6) - 500)
      return Read::kEnd;
    ++handed_out_;
    ++handed_in_pass_;
    if (window_.realtime && !wait_for_its_time(meta)) return Read::kEnd;
    return Read::kFrame;
  }

 private:
  // Paced: until the frame's media time, on a clock that starts with the first frame handed out.
  // False when interrupted.
  bool wait_for_its_time(FrameMeta& meta) {
    if (handed_out_ == 1) pace_origin_ns_ = monotonic_ns();
    const std::int64_t due = pace_origin_ns_ + (meta.pts_us - first_handed_pts_) * 1000;
    for (std::int64_t now = monotonic_ns(); now < due; now = monotonic_ns()) {
      if (interrupted_.load()) return false;
      std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(due - now, 50'000'000)));
    }
    meta.capture_ns = std::max(due, pace_origin_ns_);
    return true;
  }

  Read read_file(cv::Mat& into, FrameMeta& meta, std::string& error) {
    if (!first_.empty()) return hand_out_first(into, meta);
    if (!size_unchanged(error)) return Read::kError;
    uchar* const target = into.data;
    if (!decoder_->grab()) {
      if (pass_frames_ == 0) {
        error = "cannot read video file " + path_ + ": no frame could be decoded" +
                (pass_start_us_ ? " (reopening it to loop)" : "");
        return Read::kError;
      }
      // The end, or the file stops short of what its container announces (truncated or damaged).
      if (probe_) {
        if (const std::optional<std::string> shortfall = probe_->shortfall(pass_frames_)) {
          error = path_ + " ends after " + std::to_string(pass_frames_) + " frames: " + *shortfall +
                  " (truncated or damaged)";
          return Read::kError;
        }
      }
      if (!loop_) return Read::kEnd;
      // Again from the start: reopened rather than seeked, which FFmpeg does exactly for every
      // container. The next pass's media time follows this one's last frame.
      const std::int64_t next_pts = last_pts_us_ + frame_interval_us();
      try {
        const FrameFormat reopened = open_file();
        if (reopened != format_) {
          error = path_ + " changed to " + reopened.describe() + " frames while looping";
          return Read::kError;
        }
      } catch (const InputError& e) {
        error = std::string(e.what()) + " (reopening it to loop)";
        return Read::kError;
      }
      pass_start_us_ = next_pts;
      // Once: this pass has no frame yet, so it cannot end again. Hands out a first frame that
      // open_file() decoded, if it had to.
      return read_file(into, meta, error);
    }
    if (!decoder_->retrieve(into)) {
      error = "cannot decode frame " + std::to_string(pass_frames_) + " of " + path_;
      return Read::kError;
    }
    if (into.data != target) {
      // A new buffer: the frame's size differs from the stream's first.
      error = "frame " + std::to_string(pass_frames_) + " of " + path_ + " is " + std::to_string(into.cols) + "x" +
              std::to_string(into.rows) + ", the stream started at " + format_.describe();
      return Read::kError;
    }
    meta.pts_us = last_pts_us_ = next_pts(decoder_->pts_us());
    return Read::kFrame;
  }

 private:
  // Opens the file and says the frames' format. The first frame is decoded by the first read()
  // (straight into a slot, while the workers start), unless FFmpeg's demuxer cannot tell the size.
  FrameFormat open_file() {
    // Open errors are reported by us, in one line; FFmpeg's own would be noise. A missing file
    // is caught when the config loads, but a looped one may go away later.
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) throw InputError("cannot open video file " + path_ + ": no such file");
    if (::access(path_.c_str(), R_OK) != 0)
      throw InputError("cannot open video file " + path_ + ": " + std::strerror(errno));
    std::string why;
    // The first frame sooner only where it is waited for: not at each pass of a loop.
    decoder_ = AvDecoder::open(path_, why, !opened_before_, threads_, limits_.max_frame_pixels);
    if (!decoder_) throw InputError("cannot open video file " + path_ + ": " + why);
    if (!opened_before_)
      get_logger("source")->debug("file {}: {}", path_,
                                  decoder_->analysed() ? "FFmpeg's stream analysis ran (the header does not tell all)"
                                                       : "the header gives size, rate and count: no stream analysis");
    opened_before_ = true;
    pass_frames_ = 0;
    probe_ = PacketProbe::open(path_);
    first_packet_size_.reset();
    // BGR frames, turned as the stream's display matrix says; the frame size is the turned one.
    const FrameFormat format{decoder_->width(), decoder_->height(), CV_8UC3};
    if (format.width > 0 && format.height > 0) return format;
    std::string error;
    cv::Mat frame;
    if (!size_unchanged(error) || !decoder_->grab() || !decoder_->retrieve(frame) || frame.empty())
      // Its header did not say the size, and no frame decoded: a damaged file, or one whose frames
      // are beyond the limit (the decoder refuses them before allocating them).
      throw InputError("cannot read video file " + path_ + ": no frame could be decoded (damaged, or frames larger than " +
                       std::to_string(limits_.max_frame_pixels) + " pixels, limits.max_frame_pixels)");
    first_pts_us_ = decoder_->pts_us();
    first_ = frame;
    return FrameFormat{first_.cols, first_.rows, first_.type()};
  }

  // Media time of the frame just read, from the file's (-1: it tells none): passes after the first
  // follow the pass before. Where the file's does not go forward (none, or out of order), media
  // time still does, a frame time after the frame before.
  std::int64_t next_pts(std::int64_t file_pts) {
    if (file_pts < 0) file_pts = pass_frames_ == 0 ? 0 : last_pts_us_ - pts_offset_us_ + frame_interval_us();
    const bool pass_starts = pass_frames_++ == 0;
    if (pass_starts && pass_start_us_) pts_offset_us_ = *pass_start_us_ - file_pts;
    const std::int64_t pts = pts_offset_us_ + file_pts;
    return pass_starts || pts > last_pts_us_ ? pts : last_pts_us_ + frame_interval_us();
  }

  // Whether the packet of the frame about to be read (the probe keeps in step with the frames
  // handed out) has the stream's first size, when its codec's parser tells: the run stops before
  // a frame of another size, with the packet's size in the error. (A frame of another size that
  // the parser did not announce is caught when it is decoded.)
  bool size_unchanged(std::string& error) {
    if (!probe_) return true;
    const std::optional<PacketSize> size = probe_->next();
    if (!size) return true;
    if (!first_packet_size_) first_packet_size_ = size;
    if (*size == *first_packet_size_) return true;
    error = "frame " + std::to_string(pass_frames_) + " of " + path_ + " is " + std::to_string(size->width) + "x" +
            std::to_string(size->height) + ", the stream started at " + std::to_string(first_packet_size_->width) +
            "x" + std::to_string(first_packet_size_->height) + " (its frame size changes mid-stream)";
    probe_.reset();
    return false;
  }

  std::int64_t frame_interval_us() const { return static_cast<std::int64_t>(std::llround(1e6 / fps_)); }

  Read hand_out_first(cv::Mat& into, FrameMeta& meta) {
    first_.copyTo(into);
    first_.release();
    meta.pts_us = last_pts_us_ = next_pts(first_pts_us_);
    return Read::kFrame;
  }

  std::string path_;
  bool loop_;
  int threads_;  // the decoder's (0: one per core)
  SourceLimits limits_;
  FileWindow window_;
  std::int64_t handed_out_ = 0;            // frames read() gave, in all passes
  std::int64_t handed_in_pass_ = 0;        // and in this pass
  std::int64_t passes_ = 0;
  std::int64_t pass_first_file_pts_ = 0;   // the file's media time of this pass's first frame
  std::int64_t first_handed_pts_ = 0;      // media time of the first frame handed out
  std::int64_t pace_origin_ns_ = 0;        // paced: when it was handed out
  std::atomic<bool> interrupted_{false};
  std::unique_ptr<AvDecoder> decoder_;
  FrameFormat format_;
  double fps_ = 25;
  std::int64_t frame_count_ = -1;  // what the container announces (an estimate for some)
  cv::Mat first_;  // decoded by open_file() when the demuxer tells no frame size; not yet read
  bool opened_before_ = false;  // a looped file is opened again for each pass
  std::unique_ptr<PacketProbe> probe_;  // null: FFmpeg's demuxer cannot read the file on its own
  std::optional<PacketSize> first_packet_size_;
  std::int64_t first_pts_us_ = 0;
  std::int64_t pass_frames_ = 0;    // frames handed out since the file was (re)opened
  std::int64_t pts_offset_us_ = 0;  // added to the file's media time: the earlier passes' length
  std::optional<std::int64_t> pass_start_us_;  // looping: the media time the current pass starts at
  std::int64_t last_pts_us_ = 0;
};

SourceSpec parse_file_source(ConfigReader& r) {
  SourceSpec spec;
  spec.type = "file";
  std::string given;
  const std::string path = r.required_path("path", &given);
  if (!given.empty() && !r.describing()) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status))
      r.fail("path", "no such file: " + path);
    else if (std::filesystem::is_directory(status))
      r.fail("path", "expected a video file, got a directory: " + path);
  }
  const bool loop = r.boolean("loop", false);
  const int threads = static_cast<int>(r.integer("threads", 0, 0, 64));
  FileWindow w;
  w.start_s = r.number("start", 0, 0, 1e7);
  w.start_frame = r.integer("start_frame", 0, 0, ConfigReader::kIntMax);
  if (r.has("start") && r.has("start_frame"))
    r.fail("start_frame", "give start (seconds) or start_frame, not both");
  w.max_frames = r.integer("max_frames", 0, 0, ConfigReader::kIntMax);
  w.duration_s = r.number("duration", 0, 0, 1e7);
  w.realtime = r.choice("pace", "max", {"max", "realtime"}) == "realtime";
  spec.live = w.realtime;
  std::string window;
  if (w.start_s > 0) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", w.start_s);
    window += std::string(" from ") + seconds + " s";
  }
  if (w.start_frame > 0) window += " from frame " + std::to_string(w.start_frame);
  if (w.max_frames > 0) window += ", " + std::to_string(w.max_frames) + " frames at most";
  if (w.duration_s > 0) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", w.duration_s);
    window += std::string(", ") + seconds + " s at most";
  }
  if (w.realtime) window += ", paced";
  spec.description = "file " + path + (loop ? " looped" : "") + window +
                     (threads > 0 ? ", decoded on " + std::to_string(threads) + " thread" + (threads > 1 ? "s" : "") : "");
  spec.path = path;
  spec.open = [path, loop, threads, w](const SourceLimits& limits) -> std::unique_ptr<Source> {
    return std::make_unique<FileSource>(path, loop, threads, limits, w);
  };
  return spec;
}

}  // namespace

CVPIPE_REGISTER_SOURCE(File, "file", "a video file, decoded with FFmpeg",
                       "type: file\npath: samples/clip.mp4   # relative to the config file\nloop: false   # true: start again at the end\n"
                       "threads: 0   # the decoder's threads; 0: one per core\n"
                       "start: 0   # seconds into the video where reading starts (or start_frame: N)\n"
                       "max_frames: 0   # frames to read at most; 0: all (or duration: seconds)\n"
                       "pace: max   # realtime: no faster than the video's own rate, as a camera",
                       parse_file_source)

}  // namespace cvpipe
