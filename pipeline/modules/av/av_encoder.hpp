// AvEncoder: frames into a video file with FFmpeg's own libraries (libavcodec, libavformat,
// libswscale), so that what OpenCV's VideoWriter keeps to itself is ours to set: each frame's
// time, the encoder's preset and keyframe interval, and every error (a full disk included).
//
// Frames are timed by their media time (FrameMeta::pts_us: a file's own timestamps, a camera's or
// stream's capture time), so a video plays at the speed it was captured at, whatever rate the
// source announced. Containers that hold one frame rate (AVI, raw streams) get frames at the rate
// given, a frame that comes late repeated as the container does (an empty chunk in AVI), so they
// keep wall time too; `constant_rate` puts every frame 1/fps after the previous one instead.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>

extern "C" {
#include <libavcodec/codec_id.h>
}

struct AVOutputFormat;

namespace cvpipe {

// The codec a fourcc names in a container, as OpenCV 4.6's FFmpeg writer looks it up: the
// container's own tags, then the AVI and MOV tables, then the codec's name ("h264");
// AV_CODEC_ID_NONE if none.
AVCodecID codec_for_fourcc(const AVOutputFormat* container, const std::string& fourcc);

// What to write and how.
struct EncoderSettings {
  std::string path;
  std::string fourcc = "avc1";
  double fps = 25;              // the nominal rate: rate control, keyframe spacing, fixed-rate containers
  bool constant_rate = false;   // every frame 1/fps after the previous, whatever its time
  std::string preset;           // libx264's speed preset ("" for the encoder's default)
  double keyframe_interval_s = 2;
};

class AvEncoder {
 public:
  // Opens `settings.path` for frames of width x height, 1 (gray) or 3 (BGR) channels of 8 bits;
  // nullptr with `error` set ("...: No such file or directory") if FFmpeg cannot. An odd side is
  // cropped by one pixel where the codec's pixel format needs even ones (cropped() says so).
  static std::unique_ptr<AvEncoder> open(const EncoderSettings& settings, int width, int height, int channels,
                                         std::string& error);
  ~AvEncoder();
  AvEncoder(const AvEncoder&) = delete;
  AvEncoder& operator=(const AvEncoder&) = delete;

  // Encodes `frame` (of the size and channels given to open()) at media time `pts_us`; false
  // with `error` set when the file cannot take it. Times must increase; one that does not is put
  // just after the previous.
  bool write(const cv::Mat& frame, std::int64_t pts_us, std::string& error);
  // Drains the encoder and writes the container's index; false with `error` set when that fails.
  // The file is closed either way. Idempotent.
  bool finish(std::string& error);

  std::int64_t bytes_written() const;  // what reached the file (FFmpeg's buffer aside)
  std::int64_t frames_held() const;    // given to the encoder, not yet in the file (its look-ahead)
  bool cropped() const;
  const char* encoder_name() const;    // "libx264", "mpeg4", ...

 private:
  struct State;
  explicit AvEncoder(std::unique_ptr<State> state);
  bool drain(std::string& error);  // the encoder's packets into the file
  std::unique_ptr<State> state_;
};

}  // namespace cvpipe
