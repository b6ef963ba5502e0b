#include "pipeline/sources/av_decoder.hpp"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libswscale/swscale.h>
}

namespace cvpipe {
namespace {

// FFmpeg's own messages would be noise beside our one line per error. OPENCV_FFMPEG_LOGLEVEL,
// which OpenCV's FFmpeg backend reads and the daemon sets to quiet unless the user did, says how
// much of them to print (24: warnings).
void set_ffmpeg_log_level() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* level = std::getenv("OPENCV_FFMPEG_LOGLEVEL");
    av_log_set_level(level ? std::atoi(level) : AV_LOG_QUIET);
  });
}

// The turn the stream's display matrix asks for, clockwise: 0, 90, 180 or 270. The matrix's angle
// is counterclockwise.
int rotation_of(const AVStream* stream) {
  const std::uint8_t* matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (!matrix) return 0;
  int angle = -static_cast<int>(std::lround(av_display_rotation_get(reinterpret_cast<const std::int32_t*>(matrix))));
  angle %= 360;
  return angle < 0 ? angle + 360 : angle;
}

}  // namespace

int first_video_stream(const AVFormatContext* format) {
  for (unsigned i = 0; i < format->nb_streams; ++i)
    if (format->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) return static_cast<int>(i);
  return -1;
}

struct AvDecoder::State {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVStream* stream = nullptr;  // the video stream decoded
  AVPacket* packet = nullptr;
  AVFrame* frame = nullptr;
  SwsContext* sws = nullptr;
  int rotation = 0;
  int first_width = 0, first_height = 0;  // the first frame's size, once retrieved
  int coded_width = 0, coded_height = 0;  // the decoder's for it
  bool valid = false;  // `frame` holds the frame grab() decoded
  AVFrame* bgr = nullptr;  // the conversion's output, at the decoder's coded size

  ~State() {
    sws_freeContext(sws);
    av_frame_free(&bgr);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&codec);
    avformat_close_input(&format);
  }
};

AvDecoder::AvDecoder(std::unique_ptr<State> state) : state_(std::move(state)) {}
AvDecoder::~AvDecoder() = default;

std::unique_ptr<AvDecoder> AvDecoder::open(const std::string& path, std::string& error) {
  set_ffmpeg_log_level();
  auto s = std::make_unique<State>();
  if (avformat_open_input(&s->format, path.c_str(), nullptr, nullptr) != 0 ||
      avformat_find_stream_info(s->format, nullptr) < 0) {
    error = "not a video FFmpeg can read";
    return nullptr;
  }
  const int index = first_video_stream(s->format);
  if (index < 0) {
    error = "it has no video";
    return nullptr;
  }
  s->stream = s->format->streams[index];
  const AVCodec* decoder = avcodec_find_decoder(s->stream->codecpar->codec_id);
  if (!decoder) {
    error = "FFmpeg has no decoder for its video (" + std::string(avcodec_get_name(s->stream->codecpar->codec_id)) + ")";
    return nullptr;
  }
  s->codec = avcodec_alloc_context3(decoder);
  s->packet = av_packet_alloc();
  s->frame = av_frame_alloc();
  s->bgr = av_frame_alloc();
  if (!s->codec || !s->packet || !s->frame || !s->bgr || avcodec_parameters_to_context(s->codec, s->stream->codecpar) < 0) {
    error = "out of memory";
    return nullptr;
  }
  s->codec->pkt_timebase = s->stream->time_base;
  // As OpenCV: a decoder thread per core.
  s->codec->thread_count = cv::getNumberOfCPUs();
  if (avcodec_open2(s->codec, decoder, nullptr) < 0) {
    error = "FFmpeg cannot open its decoder (" + std::string(decoder->name) + ")";
    return nullptr;
  }
  s->rotation = rotation_of(s->stream);
  return std::unique_ptr<AvDecoder>(new AvDecoder(std::move(s)));
}

int AvDecoder::width() const {
  const AVCodecParameters* p = state_->stream->codecpar;
  return state_->rotation % 180 ? p->height : p->width;
}

int AvDecoder::height() const {
  const AVCodecParameters* p = state_->stream->codecpar;
  return state_->rotation % 180 ? p->width : p->height;
}

double AvDecoder::fps() const {
  double fps = av_q2d(state_->stream->avg_frame_rate);
  if (!(fps > 0)) fps = av_q2d(av_guess_frame_rate(state_->format, state_->stream, nullptr));
  return fps > 0 ? fps : 25.0;
}

std::int64_t AvDecoder::frame_count() const {
  if (state_->stream->nb_frames > 0) return state_->stream->nb_frames;
  double seconds = state_->format->duration != AV_NOPTS_VALUE
                       ? static_cast<double>(state_->format->duration) / AV_TIME_BASE
                       : 0.0;
  if (!(seconds > 0) && state_->stream->duration != AV_NOPTS_VALUE)
    seconds = static_cast<double>(state_->stream->duration) * av_q2d(state_->stream->time_base);
  const auto estimate = static_cast<std::int64_t>(std::floor(seconds * fps() + 0.5));
  return estimate > 0 ? estimate : -1;
}

bool AvDecoder::grab() {
  State& s = *state_;
  // A decoder that gives up on packet after packet gives up on the file.
  constexpr int kMaxErrors = 1 << 9;
  int errors = 0;
  s.valid = avcodec_receive_frame(s.codec, s.frame) >= 0;
  while (!s.valid) {
    av_packet_unref(s.packet);
    const int read = av_read_frame(s.format, s.packet);
    if (read == AVERROR(EAGAIN)) continue;
    if (read < 0) {
      // The end (or a read error): what the decoder still holds comes out after an empty packet.
      av_packet_unref(s.packet);
      s.packet->stream_index = s.stream->index;
    }
    if (s.packet->stream_index != s.stream->index) {
      if (++errors > kMaxErrors) break;
      continue;
    }
    if (avcodec_send_packet(s.codec, read < 0 ? nullptr : s.packet) < 0) break;
    const int received = avcodec_receive_frame(s.codec, s.frame);
    if (received >= 0) {
      s.valid = true;
    } else if (received != AVERROR(EAGAIN) && ++errors > kMaxErrors) {
      break;
    }
  }
  av_packet_unref(s.packet);
  return s.valid;
}

bool AvDecoder::retrieve(cv::Mat& into) {
  State& s = *state_;
  if (!s.valid || !s.frame->data[0]) return false;
  // As OpenCV: converted at the decoder's coded size as it was for the first frame (the frames
  // have it, padding rows included), the shown part kept. A frame of another size than the first
  // (the stream changes size) at its own size: the file source stops at it.
  if (!s.first_width) {
    s.first_width = s.frame->width, s.first_height = s.frame->height;
    // Only if the decoder's context is at this frame's size still (a frame thread may be ahead).
    const bool context_agrees = s.codec->width == s.frame->width && s.codec->height == s.frame->height;
    s.coded_width = context_agrees ? std::max(s.codec->coded_width, s.frame->width) : s.frame->width;
    s.coded_height = context_agrees ? std::max(s.codec->coded_height, s.frame->height) : s.frame->height;
  }
  const bool first_size = s.frame->width == s.first_width && s.frame->height == s.first_height;
  const int coded_width = first_size ? s.coded_width : s.frame->width;
  const int coded_height = first_size ? s.coded_height : s.frame->height;
  s.sws = sws_getCachedContext(s.sws, coded_width, coded_height, static_cast<AVPixelFormat>(s.frame->format),
                               coded_width, coded_height, AV_PIX_FMT_BGR24, SWS_BICUBIC, nullptr, nullptr, nullptr);
  if (!s.sws) return false;
  if (s.bgr->width != coded_width || s.bgr->height != coded_height) {
    // Allocated as OpenCV allocates it, rows 32-byte aligned: swscale picks its code by alignment.
    av_frame_unref(s.bgr);
    s.bgr->format = AV_PIX_FMT_BGR24;
    s.bgr->width = coded_width;
    s.bgr->height = coded_height;
    if (av_frame_get_buffer(s.bgr, 32) != 0) return false;
  }
  sws_scale(s.sws, s.frame->data, s.frame->linesize, 0, coded_height, s.bgr->data, s.bgr->linesize);
  const cv::Mat shown(s.frame->height, s.frame->width, CV_8UC3,
                      s.bgr->data[0], static_cast<std::size_t>(s.bgr->linesize[0]));
  switch (s.rotation) {
    case 90: cv::rotate(shown, into, cv::ROTATE_90_CLOCKWISE); break;
    case 180: cv::rotate(shown, into, cv::ROTATE_180); break;
    case 270: cv::rotate(shown, into, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: shown.copyTo(into);
  }
  return true;
}

std::int64_t AvDecoder::pts_us() const {
  const State& s = *state_;
  if (!s.valid) return -1;
  std::int64_t ts = s.frame->best_effort_timestamp;
  if (ts == AV_NOPTS_VALUE) return -1;
  if (s.stream->start_time != AV_NOPTS_VALUE) ts -= s.stream->start_time;
  return av_rescale_q(ts, s.stream->time_base, AVRational{1, 1'000'000});
}

}  // namespace cvpipe
