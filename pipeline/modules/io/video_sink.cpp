// video: encodes frames with OpenCV's FFmpeg backend into any container and fourcc it writes.
// One-channel frames are converted to BGR. The frame rate is the source's unless given.
//
// OpenCV's VideoWriter reports no write error, and an MP4 whose disk filled up before its index
// (written at the end) is unplayable. So the sink keeps room to finalize: before each frame it
// checks the free space on the output's disk against an estimate of what the next frames and the
// index need, and stops the run (exit 73) while the video can still be closed properly.
//   sink:
//     type: video
//     path: out/result.mp4     # relative to the config file; folders are created
//     fourcc: mp4v             # four characters: mp4v, MJPG, XVID, avc1 (if FFmpeg has it), ...
//     fps: 0                   # 0: the source's frame rate
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "pipeline/core/errors.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/sink.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace cvpipe {
namespace {

// What OpenCV 4.6's FFmpeg writer is sure to refuse, found when the config loads instead of as
// exit 73 (with a line of OpenCV's own before cvpipe's): a file extension FFmpeg has no container
// for, a fourcc that names no codec, or a codec this FFmpeg cannot encode. OpenCV looks the fourcc
// up in the container's tags, then in the AVI and MOV tables, then as a codec name ("h264"); so
// does this. Reports at `path` or `fourcc`, nothing when the writer may work.
void check_writable(ConfigReader& r, const std::string& path, const std::string& fourcc) {
  const AVOutputFormat* container = av_guess_format(nullptr, path.c_str(), nullptr);
  if (!container) {
    r.fail("path", "FFmpeg has no container for the extension of " + path + " (use .mp4, .mkv, .avi, ...)");
    return;
  }
  const std::string_view key = r.has("fourcc") ? "fourcc" : "path";  // the default fourcc: the path chose it
  const auto tag = static_cast<unsigned>(MKTAG(fourcc[0], fourcc[1], fourcc[2], fourcc[3]));
  AVCodecID codec = container->codec_tag ? av_codec_get_id(container->codec_tag, tag) : AV_CODEC_ID_NONE;
  if (codec == AV_CODEC_ID_NONE) {
    const AVCodecTag* const tables[] = {avformat_get_riff_video_tags(), avformat_get_mov_video_tags(), nullptr};
    codec = av_codec_get_id(tables, tag);
  }
  if (codec == AV_CODEC_ID_NONE) {
    std::string name;
    for (char c : fourcc) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (const AVCodecDescriptor* d = avcodec_descriptor_get_by_name(name.c_str())) codec = d->id;
  }
  if (codec == AV_CODEC_ID_NONE)
    r.fail(key, "no video codec is called " + fourcc + " (e.g. mp4v, avc1, MJPG, XVID, FFV1)");
  else if (!avcodec_find_encoder(codec))
    r.fail(key, "this FFmpeg cannot encode " + fourcc + " (" + avcodec_get_name(codec) + ")");
  else if (avformat_query_codec(container, codec, FF_COMPLIANCE_NORMAL) == 0)  // < 0: the muxer cannot tell
    r.fail(key, std::string("a ") + container->long_name + " file cannot hold " + avcodec_get_name(codec) +
                    " video (fourcc " + fourcc + "); pick a fourcc it takes, or another extension (.mkv takes most)");
}

// Sends this process's stderr to /dev/null while it lives. OpenCV's FFmpeg writer prints its own
// lines on opening ("tag ... is not supported", "fallback to use tag ...") and so do encoders
// (x265's banner); cvpipe says what matters in its own line. Only used while no other thread of
// cvpipe's logs: the sink opens before the pipeline's threads start. (Closing it is not quieted,
// as threads may log then: x265 prints its summary.)
class QuietStderr {
 public:
  QuietStderr() : saved_(::dup(STDERR_FILENO)) {
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved_ >= 0 && null >= 0) ::dup2(null, STDERR_FILENO);
    if (null >= 0) ::close(null);
  }
  ~QuietStderr() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_;
};

class VideoSink final : public Sink {
 public:
  VideoSink(const std::string& path, const std::string& fourcc, const FrameFormat& format, double fps)
      : path_(path) {
    create_parent_dirs(path_);  // throws when the folder cannot be made or written into
    std::error_code ec;
    if (std::filesystem::is_directory(path_, ec))
      throw OutputError("cannot create video " + path_ + ": it is a folder (the path must name the file)");
    const int code = cv::VideoWriter::fourcc(fourcc[0], fourcc[1], fourcc[2], fourcc[3]);
    bool opened = false;
    {
      const QuietStderr quiet;
      opened = writer_.open(path_, cv::CAP_FFMPEG, code, fps, cv::Size(format.width, format.height), true);
    }
    if (!opened)
      throw OutputError("cannot create video " + path_ + " (fourcc " + fourcc + ", " + format.describe() +
                        "): FFmpeg could not start encoding it (OPENCV_FFMPEG_LOGLEVEL=24 shows FFmpeg's reason)");
    if (format.channels() == 1) bgr_.create(format.height, format.width, CV_8UC3);
    dir_ = std::filesystem::path(path_).parent_path().string();
    if (dir_.empty()) dir_ = ".";
    // Until the file shows how well frames compress: a quarter of a raw frame each.
    frame_bytes_ = static_cast<double>(format.width) * format.height * 3 / 4;
    if (format.width % 2 || format.height % 2)
      get_logger("writer")->warn("frames are {}: OpenCV's FFmpeg writer needs even sizes, so the video will be "
                                 "{}x{}, cropped (the images sink keeps every pixel)",
                                 format.describe(), format.width & ~1, format.height & ~1);
  }
  ~VideoSink() override { (void)close(); }

  Status write(const cv::Mat& frame, const FrameMeta&) override {
    if (Status room = check_room(); !room) return room;
    if (frame.channels() == 1) {
      cv::cvtColor(frame, bgr_, cv::COLOR_GRAY2BGR);
      writer_.write(bgr_);
    } else {
      writer_.write(frame);
    }
    ++written_;
    return Status::ok();
  }

  Status close() override {
    if (!writer_.isOpened()) return Status::ok();
    writer_.release();
    if (written_ == 0) return Status::ok();
    // VideoWriter::write() reports nothing (a full disk included): read the result back.
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec))
      return Status::error("video " + path_ + " was removed (or its folder) while it was written");
    cv::VideoCapture check(path_, cv::CAP_FFMPEG);
    if (!check.isOpened())
      return Status::error("video " + path_ + " is unreadable after writing " + std::to_string(written_) +
                           " frames (disk full?)");
    const auto announced = static_cast<std::int64_t>(check.get(cv::CAP_PROP_FRAME_COUNT));
    if (announced > 0 && written_ - announced > std::max<std::int64_t>(2, written_ / 100))
      return Status::error("video " + path_ + " holds " + std::to_string(announced) + " of the " +
                           std::to_string(written_) + " frames written (disk full?)");
    return Status::ok();
  }

  std::int64_t frames_written() const override { return written_; }

 private:
  Status check_room() {
    // The file's growth tells the encoded frame size (FFmpeg buffers a little: an average).
    if (written_ > 0 && written_ % 8 == 0) {
      struct stat st;
      if (::stat(path_.c_str(), &st) == 0 && st.st_size > 0)
        frame_bytes_ = static_cast<double>(st.st_size) / static_cast<double>(written_);
    }
    struct statvfs fs;
    if (::statvfs(dir_.c_str(), &fs) != 0) {
      if (errno == ENOENT) return Status::error("the output folder " + dir_ + " was removed while " + path_ + " was written");
      return Status::ok();  // cannot tell: write on
    }
    const double available = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
    // What is buffered and the next frames (8 at the estimated size, counting a key frame as
    // several), FFmpeg's I/O buffer, and the index: about 64 bytes a frame in MP4, with margin.
    const double needed = 8 * frame_bytes_ + 1024.0 * 1024 + 64.0 * static_cast<double>(written_ + 1);
    if (available >= needed) return Status::ok();
    char text[160];
    std::snprintf(text, sizeof text, "the disk of %s is nearly full (%.1f MiB left, %.1f MiB needed to go on and "
                  "finalize it): stopping while the video can still be closed", path_.c_str(), available / 1048576.0,
                  needed / 1048576.0);
    return Status::error(text);
  }

  std::string path_, dir_;
  double frame_bytes_ = 0;
  cv::VideoWriter writer_;
  cv::Mat bgr_;
  std::int64_t written_ = 0;
};

SinkSpec parse_video_sink(ConfigReader& r) {
  const std::string path = r.required_path("path");
  std::string fourcc = r.string("fourcc", "mp4v");
  if (fourcc.size() != 4 && !r.describing()) {
    r.fail("fourcc", "expected four characters (e.g. mp4v, MJPG, XVID), got \"" + fourcc + "\"");
    fourcc = "mp4v";
  } else if (!r.describing() && !path.empty()) {
    std::error_code ec;
    // A folder where the file must go is exit 73 when the sink opens, as every path it cannot create.
    if (!std::filesystem::is_directory(path, ec)) check_writable(r, path, fourcc);
  }
  const double fps = r.number("fps", 0, 0, 1000);
  SinkSpec spec;
  spec.type = "video";
  spec.description = "video " + path + " (" + fourcc + ")";
  spec.path = path;
  spec.writes = path;
  spec.check_format = [](const FrameFormat& f) {
    if (std::string why = require_8bit_1_or_3_channels(f); !why.empty()) return why;
    // Odd sizes are cropped to even ones (see VideoSink), so a side of 1 would be 0.
    if (f.width < 2 || f.height < 2)
      return "needs frames of at least 2x2 pixels (odd sizes are cropped to even ones), the pipeline produces " +
             f.describe();
    return std::string();
  };
  spec.open = [path, fourcc, fps](const FrameFormat& format, double source_fps) -> std::unique_ptr<Sink> {
    return std::make_unique<VideoSink>(path, fourcc, format, fps > 0 ? fps : source_fps);
  };
  return spec;
}

}  // namespace

CVPIPE_REGISTER_SINK(Video, "video", "a video file written with FFmpeg",
                     "type: video\npath: out/result.mp4\nfourcc: mp4v", parse_video_sink)

}  // namespace cvpipe
