// file: decodes a video file with FFmpeg, as OpenCV's FFmpeg backend does (av_decoder.hpp).
//   source:
//     type: file
//     path: samples/clip.mp4     # relative to the config file
//     loop: false                # true: start again at the end, forever (media time keeps increasing)
//     threads: 0                 # the decoder's threads; 0: one per core
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "pipeline/core/errors.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/modules/av/av_decoder.hpp"
#include "pipeline/modules/av/packet_probe.hpp"
#include "pipeline/runtime/source.hpp"

namespace cvpipe {
namespace {

class FileSource final : public Source {
 public:
  FileSource(const std::string& path, bool loop, int threads, const SourceLimits& limits)
      : path_(path), loop_(loop), threads_(threads), limits_(limits) {
    format_ = open_file();
    fps_ = decoder_->fps();
    if (!(fps_ > 0 && fps_ < 1000)) fps_ = 25;
    frame_count_ = decoder_->frame_count();
  }

  FrameFormat format() const override { return format_; }
  double fps() const override { return fps_; }
  // Looping, the file never ends.
  std::int64_t frame_count() const override { return loop_ ? -1 : frame_count_; }

  Read read(cv::Mat& into, FrameMeta& meta, std::string& error) override {
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
      return read(into, meta, error);
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
  spec.description = "file " + path + (loop ? " looped" : "") +
                     (threads > 0 ? ", decoded on " + std::to_string(threads) + " thread" + (threads > 1 ? "s" : "") : "");
  spec.path = path;
  spec.open = [path, loop, threads](const SourceLimits& limits) -> std::unique_ptr<Source> {
    return std::make_unique<FileSource>(path, loop, threads, limits);
  };
  return spec;
}

}  // namespace

CVPIPE_REGISTER_SOURCE(File, "file", "a video file, decoded with FFmpeg",
                       "type: file\npath: samples/clip.mp4   # relative to the config file\nloop: false   # true: start again at the end\n"
                       "threads: 0   # the decoder's threads; 0: one per core",
                       parse_file_source)

}  // namespace cvpipe
