// file: decodes a video file with OpenCV's FFmpeg backend.
//   source:
//     type: file
//     path: samples/clip.mp4     # relative to the config file
#include <sys/stat.h>

#include <opencv2/videoio.hpp>

#include <cmath>
#include <filesystem>

#include "pipeline/core/errors.hpp"
#include "pipeline/sources/source.hpp"

namespace cvpipe {
namespace {

class FileSource final : public Source {
 public:
  explicit FileSource(const std::string& path) : path_(path) {
    // Open errors are reported by us, in one line; OpenCV's own would be noise.
    if (!cap_.open(path_, cv::CAP_FFMPEG))
      throw InputError("cannot open video file " + path_ + ": not a video FFmpeg can decode");
    // The first frame tells the true frame size (the container's may be before rotation) and
    // proves the file decodes; it is handed out by the first read().
    if (!cap_.read(first_) || first_.empty())
      throw InputError("cannot read video file " + path_ + ": no frame could be decoded");
    format_ = FrameFormat{first_.cols, first_.rows, first_.type()};
    first_pts_us_ = static_cast<std::int64_t>(std::llround(cap_.get(cv::CAP_PROP_POS_MSEC) * 1000.0));
    fps_ = cap_.get(cv::CAP_PROP_FPS);
    if (!(fps_ > 0 && fps_ < 1000)) fps_ = 25;
    const double count = cap_.get(cv::CAP_PROP_FRAME_COUNT);
    frame_count_ = count > 0 ? static_cast<std::int64_t>(count) : -1;
  }

  FrameFormat format() const override { return format_; }
  double fps() const override { return fps_; }
  std::int64_t frame_count() const override { return frame_count_; }

  Read read(cv::Mat& into, FrameMeta& meta, std::string& error) override {
    if (!first_.empty()) {
      first_.copyTo(into);
      first_.release();
      meta.pts_us = first_pts_us_;
      return Read::kFrame;
    }
    uchar* const target = into.data;
    if (!cap_.grab()) {
      // The end, or the file stops short of what its container announces (truncated or damaged).
      // Containers that only estimate the count (from duration x fps) may be off by a frame or two.
      if (frame_count_ > 0 && frame_count_ - static_cast<std::int64_t>(meta.seq) > std::max<std::int64_t>(2, frame_count_ / 100)) {
        error = path_ + " ends after " + std::to_string(meta.seq) + " of the " + std::to_string(frame_count_) +
                " frames it announces (truncated or damaged)";
        return Read::kError;
      }
      return Read::kEnd;
    }
    if (!cap_.retrieve(into)) {
      error = "cannot decode frame " + std::to_string(meta.seq) + " of " + path_;
      return Read::kError;
    }
    if (into.data != target) {
      // OpenCV allocated a new buffer: the frame's size or type differs from the stream's first.
      error = "frame " + std::to_string(meta.seq) + " of " + path_ + " is " + std::to_string(into.cols) + "x" +
              std::to_string(into.rows) + ", the stream started at " + format_.describe();
      return Read::kError;
    }
    meta.pts_us = static_cast<std::int64_t>(std::llround(cap_.get(cv::CAP_PROP_POS_MSEC) * 1000.0));
    return Read::kFrame;
  }

 private:
  std::string path_;
  cv::VideoCapture cap_;
  FrameFormat format_;
  double fps_ = 25;
  std::int64_t frame_count_ = -1;
  cv::Mat first_;  // decoded by the constructor, not yet read
  std::int64_t first_pts_us_ = 0;
};

SourceSpec parse_file_source(ConfigReader& r, const LoadContext& ctx) {
  SourceSpec spec;
  spec.type = "file";
  const std::string given = r.required_string("path");
  const std::string path = ctx.resolve(given);
  if (!given.empty() && !r.describing()) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status))
      r.fail("path", "no such file: " + path);
    else if (std::filesystem::is_directory(status))
      r.fail("path", "expected a video file, got a directory: " + path);
  }
  spec.description = "file " + path;
  spec.path = path;
  spec.open = [path]() -> std::unique_ptr<Source> { return std::make_unique<FileSource>(path); };
  return spec;
}

}  // namespace

CVPIPE_REGISTER_SOURCE(File, "file", "a video file, decoded with FFmpeg",
                       "type: file\npath: samples/clip.mp4   # relative to the config file",
                       parse_file_source)

}  // namespace cvpipe
