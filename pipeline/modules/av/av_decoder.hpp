// AvDecoder: a video file's frames, decoded by FFmpeg's libraries and converted to BGR exactly as
// OpenCV 4.6's FFmpeg backend (cv::VideoCapture with CAP_FFMPEG) does, frame for frame and byte
// for byte, without OpenCV's videoio: that brings ~245 libraries (GStreamer, GDAL, ...) whose
// loading was most of the daemon's start-up, where FFmpeg's own take a third of the time.
//
// What it does as OpenCV does (the tests compare the two on FFV1, H.264 4:2:0 in MP4 and
// MPEG-TS, 4:4:4, MJPEG):
// - the stream: the file's first video stream; its decoder runs on one thread per core (unless
//   told another count);
// - BGR24 by swscale, SWS_BICUBIC, over the decoder's coded size (1920x1088 for 1080p H.264),
//   of which the shown size is kept (converted straight into the caller's frame, coded rows below
//   the shown ones left out, where swscale's bytes are known to be the same and to stay within
//   the frame: 8-bit 4:2:0 at a width that is a multiple of 16);
// - a stream with a display matrix is turned by 90, 180 or 270 degrees, and its size is the turned
//   one. The way FFmpeg turns it (ffmpeg's autorotate, players) and OpenCV after 4.6 do: OpenCV 4.6
//   reads the matrix's angle with the wrong sign and turns a 90 degree video the other way;
// - the frame rate is the stream's average (else FFmpeg's guess), the frame count the container's
//   (else duration x rate, rounded).
// Unlike OpenCV:
// - each frame's media time is FFmpeg's best-effort timestamp, also for the frames drained from
//   the decoder at the end of the file (OpenCV 4.6 says 0 for those);
// - FFmpeg's stream analysis, which decodes the first frames, is skipped when the container's
//   header already gives the size, rate and count, as MP4 and AVI do: the same frames, the first
//   one sooner.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>

struct AVFormatContext;

namespace cvpipe {

// The index of the file's first video stream, the one OpenCV decodes; -1 if none.
int first_video_stream(const AVFormatContext* format);

class AvDecoder {
 public:
  // Opens `path`; nullptr with `error` set when FFmpeg cannot read it or it has no video stream
  // a decoder of FFmpeg's can decode. With `first_alone`, the first frame comes sooner where the
  // stream reorders frames (see first_frame_alone): the same frame, decoded twice. `threads`: the
  // decoder's threads, 0 for one per core. A stream whose frames are larger than `max_pixels` is
  // refused (its header's size; the decoder refuses a larger frame whatever the header said).
  static std::unique_ptr<AvDecoder> open(const std::string& path, std::string& error, bool first_alone = false,
                                         int threads = 0, std::int64_t max_pixels = INT64_MAX);
  ~AvDecoder();
  AvDecoder(const AvDecoder&) = delete;
  AvDecoder& operator=(const AvDecoder&) = delete;

  // The frames' size as handed out (turned, if the stream says so); 0 when the container does
  // not tell it before a frame is decoded.
  int width() const;
  int height() const;
  double fps() const;           // > 0
  std::int64_t frame_count() const;  // what the container announces (an estimate for some); -1 if nothing
  // Whether FFmpeg's stream analysis ran at open (not when the header told all: see above).
  bool analysed() const;

  // Decodes the next frame; false at the end of the file or when the decoder gives up on it.
  bool grab();
  // The frame grab() decoded, in BGR, into `into`: reallocated unless it already has the frame's
  // size and type (CV_8UC3). False if the frame cannot be converted.
  bool retrieve(cv::Mat& into);
  // The media time of the frame grab() decoded, from the stream's start, in microseconds; -1 if
  // the file tells none.
  std::int64_t pts_us() const;

 private:
  struct State;
  explicit AvDecoder(std::unique_ptr<State> state);
  int next_packet();     // into state_->packet: a packet read ahead, else the file's next; av_read_frame's result
  int receive_status();  // avcodec_receive_frame into state_->frame, leaving out the first frame's duplicate
  bool first_frame_alone();
  bool convert_into(int coded_width, int coded_height, cv::Mat& into);  // retrieve()'s, where it can
  std::unique_ptr<State> state_;
};

}  // namespace cvpipe
