// video: encodes frames into one video file with FFmpeg's libraries (AvEncoder): H.264 in MP4 by
// default, which browsers play; any container and fourcc FFmpeg writes. One-channel frames are
// encoded as gray. Each frame is written at its media time (a file's own timestamps, a camera's
// or stream's capture time), so the video plays at the speed the source was captured at.
//
// An MP4 whose disk filled up before its index (written at the end) is unplayable. So the sink
// keeps room to finalize: before each frame it checks the free space on the output's disk
// against an estimate of what the next frames and the index need, and stops the run (exit 73)
// while the video can still be closed properly.
//   sink:
//     type: video
//     path: out/result.mp4     # relative to the config file; folders are created
//     fourcc: avc1             # H.264; mp4v, MJPG, XVID, FFV1, ... (mp4v if FFmpeg has no H.264 encoder)
//     preset: superfast        # H.264's speed against size (x264's presets)
//     keyframe_interval: 2     # seconds between keyframes
//     fps: 0                   # 0: each frame at its own time; N: every frame 1/N s after the last
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <opencv2/core.hpp>

#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "pipeline/core/errors.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/modules/av/av_encoder.hpp"
#include "pipeline/runtime/sink.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace cvpipe {
namespace {

constexpr const char* kDefaultFourcc = "avc1";
constexpr const char* kFallbackFourcc = "mp4v";
constexpr const char* kDefaultPreset = "superfast";

bool h264_encoder_exists() { return avcodec_find_encoder(AV_CODEC_ID_H264) != nullptr; }

// What FFmpeg is sure to refuse, found when the config loads instead of as exit 73: a file
// extension FFmpeg has no container for, a fourcc that names no codec, or a codec this FFmpeg
// cannot encode or the container cannot hold. Reports at `path` or `fourcc`.
void check_writable(ConfigReader& r, const std::string& path, const std::string& fourcc) {
  const AVOutputFormat* container = av_guess_format(nullptr, path.c_str(), nullptr);
  if (!container) {
    r.fail("path", "FFmpeg has no container for the extension of " + path + " (use .mp4, .mkv, .avi, ...)");
    return;
  }
  const std::string_view key = r.has("fourcc") ? "fourcc" : "path";  // the default fourcc: the path chose it
  const AVCodecID codec = codec_for_fourcc(container, fourcc);
  if (codec == AV_CODEC_ID_NONE)
    r.fail(key, "no video codec is called " + fourcc + " (e.g. avc1, mp4v, MJPG, XVID, FFV1)");
  else if (!avcodec_find_encoder(codec))
    r.fail(key, "this FFmpeg cannot encode " + fourcc + " (" + avcodec_get_name(codec) + ")");
  else if (avformat_query_codec(container, codec, FF_COMPLIANCE_NORMAL) == 0)  // < 0: the muxer cannot tell
    r.fail(key, std::string("a ") + container->long_name + " file cannot hold " + avcodec_get_name(codec) +
                    " video (fourcc " + fourcc + "); pick a fourcc it takes, or another extension (.mkv takes most)");
}

class VideoSink final : public Sink {
 public:
  VideoSink(const EncoderSettings& settings, const FrameFormat& format) : path_(settings.path) {
    create_parent_dirs(path_);  // throws when the folder cannot be made or written into
    std::error_code ec;
    if (std::filesystem::is_directory(path_, ec))
      throw OutputError("cannot create video " + path_ + ": it is a folder (the path must name the file)");
    std::string why;
    encoder_ = AvEncoder::open(settings, format.width, format.height, format.channels(), why);
    if (!encoder_)
      throw OutputError("cannot create video " + path_ + " (fourcc " + settings.fourcc + ", " + format.describe() +
                        "): " + why);
    dir_ = std::filesystem::path(path_).parent_path().string();
    if (dir_.empty()) dir_ = ".";
    // Until the file shows how well frames compress: a quarter of a raw frame each.
    frame_bytes_ = static_cast<double>(format.width) * format.height * 3 / 4;
    if (encoder_->cropped())
      get_logger("writer")->warn("frames are {}: {} needs even sizes, so the video will be {}x{}, cropped (the "
                                 "images sink keeps every pixel)", format.describe(), encoder_->encoder_name(),
                                 format.width & ~1, format.height & ~1);
  }
  ~VideoSink() override { (void)close(); }

  Status write(const cv::Mat& frame, const FrameMeta& meta) override {
    if (Status room = check_room(); !room) return room;
    std::string why;
    if (!encoder_->write(frame, meta.pts_us, why)) return Status::error("video " + path_ + ": " + why);
    ++written_;
    return Status::ok();
  }

  Status close() override {
    if (closed_) return Status::ok();
    closed_ = true;
    std::string why;
    if (!encoder_->finish(why)) return Status::error("video " + path_ + " is incomplete: " + why);
    std::error_code ec;
    if (written_ > 0 && !std::filesystem::exists(path_, ec))
      return Status::error("video " + path_ + " was removed (or its folder) while it was written");
    return Status::ok();
  }

  std::int64_t frames_written() const override { return written_; }

 private:
  Status check_room() {
    // The file's growth tells the encoded frame size: an average over the frames it holds.
    if (written_ % 8 == 0)
      if (const std::int64_t bytes = encoder_->bytes_written(), in_file = written_ - encoder_->frames_held();
          bytes > 0 && in_file >= 8)
        frame_bytes_ = static_cast<double>(bytes) / static_cast<double>(in_file);
    struct statvfs fs;
    if (::statvfs(dir_.c_str(), &fs) != 0) {
      if (errno == ENOENT) return Status::error("the output folder " + dir_ + " was removed while " + path_ + " was written");
      return Status::ok();  // cannot tell: write on
    }
    const double available = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
    // The frames the encoder holds and the next 8 at the estimated size (counting a key frame as
    // several), FFmpeg's I/O buffer, and the index: about 64 bytes a frame in MP4, with margin.
    const double needed = static_cast<double>(encoder_->frames_held() + 8) * frame_bytes_ + 1024.0 * 1024 +
                          64.0 * static_cast<double>(written_ + 1);
    if (available >= needed) return Status::ok();
    char text[160];
    std::snprintf(text, sizeof text, "the disk of %s is nearly full (%.1f MiB left, %.1f MiB needed to go on and "
                  "finalize it): stopping while the video can still be closed", path_.c_str(), available / 1048576.0,
                  needed / 1048576.0);
    return Status::error(text);
  }

  std::string path_, dir_;
  double frame_bytes_ = 0;
  std::unique_ptr<AvEncoder> encoder_;
  std::int64_t written_ = 0;
  bool closed_ = false;
};

SinkSpec parse_video_sink(ConfigReader& r) {
  const std::string path = r.required_path("path");
  const bool fallback = !r.has("fourcc") && !r.describing() && !h264_encoder_exists();
  std::string fourcc = r.string("fourcc", fallback ? kFallbackFourcc : kDefaultFourcc);
  if (fourcc.size() != 4 && !r.describing()) {
    r.fail("fourcc", "expected four characters (e.g. avc1, mp4v, MJPG, XVID), got \"" + fourcc + "\"");
    fourcc = kDefaultFourcc;
  } else if (!r.describing() && !path.empty()) {
    std::error_code ec;
    // A folder where the file must go is exit 73 when the sink opens, as every path it cannot create.
    if (!std::filesystem::is_directory(path, ec)) check_writable(r, path, fourcc);
  }
  EncoderSettings settings;
  settings.path = path;
  settings.fourcc = fourcc;
  settings.preset = r.choice("preset", kDefaultPreset, {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                                        "medium", "slow", "slower", "veryslow"});
  settings.keyframe_interval_s = r.number("keyframe_interval", 2, 0.04, 3600);
  const double fps = r.number("fps", 0, 0, 1000);
  settings.constant_rate = fps > 0;
  SinkSpec spec;
  spec.type = "video";
  spec.description = "video " + path + " (" + fourcc + ")";
  spec.path = path;
  spec.writes = path;
  spec.check_format = [](const FrameFormat& f) {
    if (std::string why = require_8bit_1_or_3_channels(f); !why.empty()) return why;
    // Odd sizes are cropped to even ones (see AvEncoder), so a side of 1 would be 0.
    if (f.width < 2 || f.height < 2)
      return "needs frames of at least 2x2 pixels (odd sizes are cropped to even ones), the pipeline produces " +
             f.describe();
    return std::string();
  };
  spec.open = [settings, fps, fallback](const FrameFormat& format, double source_fps) -> std::unique_ptr<Sink> {
    if (fallback)
      get_logger("writer")->warn("this FFmpeg has no H.264 encoder: the video is MPEG-4 Part 2 (fourcc {}), which "
                                 "browsers do not play", kFallbackFourcc);
    EncoderSettings s = settings;
    s.fps = fps > 0 ? fps : source_fps;
    return std::make_unique<VideoSink>(s, format);
  };
  return spec;
}

}  // namespace

CVPIPE_REGISTER_SINK(Video, "video", "a video file written with FFmpeg (H.264 in MP4 by default)",
                     "type: video\npath: out/result.mp4", parse_video_sink)

}  // namespace cvpipe
