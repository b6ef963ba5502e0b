#include "pipeline/modules/av/av_decoder.hpp"

#include <opencv2/core.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <deque>
#include <vector>

#include "pipeline/core/logging.hpp"
#include "pipeline/modules/av/av_common.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libswscale/swscale.h>
}

namespace cvpipe {
namespace {

// The turn the stream's display matrix asks for, clockwise: 0, 90, 180 or 270. The matrix's angle
// is counterclockwise.
int rotation_of(const AVStream* stream) {
  const std::uint8_t* matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (!matrix) return 0;
  int angle = -static_cast<int>(std::lround(av_display_rotation_get(reinterpret_cast<const std::int32_t*>(matrix))));
  angle %= 360;
  return angle < 0 ? angle + 360 : angle;
}

// Whether the container's header told everything this decoder reads of the stream: that there
// is a video stream, its codec, size, average frame rate and frame count (MP4/MOV and AVI do).
// FFmpeg's stream analysis (avformat_find_stream_info), which OpenCV always runs, decodes the
// first frames to learn what a header leaves out, on the way to the first frame. It only fills in what is missing, so where nothing is, the frames, their times, the rate
// and the count are the same without it.
bool header_tells_all(const AVFormatContext* format) {
  const int index = first_video_stream(format);
  if (index < 0) return false;
  const AVStream* stream = format->streams[index];
  const AVCodecParameters* p = stream->codecpar;
  return p->codec_id != AV_CODEC_ID_NONE && p->width > 0 && p->height > 0 && stream->avg_frame_rate.num > 0 &&
         stream->avg_frame_rate.den > 0 && stream->nb_frames > 0;
}

// A decoder context for `stream` on `threads` threads (0: one per core, as OpenCV's): frame
// threads (whichever the codec has) for the stream, or `thread_type` for one frame. Null if out
// of memory.
// It refuses frames of more than `max_pixels`, whatever the stream says of its size.
AVCodecContext* new_codec_context(const AVCodec* decoder, const AVStream* stream, int threads, std::int64_t max_pixels,
                                  int thread_type = 0) {
  AVCodecContext* c = avcodec_alloc_context3(decoder);
  if (!c) return nullptr;
  if (avcodec_parameters_to_context(c, stream->codecpar) < 0) {
    avcodec_free_context(&c);
    return nullptr;
  }
  c->max_pixels = max_pixels;
  c->pkt_timebase = stream->time_base;
  c->thread_count = threads > 0 ? threads : cv::getNumberOfCPUs();
  if (thread_type) c->thread_type = thread_type;
  return c;
}

}  // namespace

int first_video_stream(const AVFormatContext* format) {
  for (unsigned i = 0; i < format->nb_streams; ++i)
    if (format->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) return static_cast<int>(i);
  return -1;
}

struct FreeCodec {
  void operator()(AVCodecContext* c) const noexcept { avcodec_free_context(&c); }
};

struct AvDecoder::State {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVStream* stream = nullptr;  // the video stream decoded
  AVPacket* packet = nullptr;
  AVFrame* frame = nullptr;
  const AVCodecContext* frame_codec = nullptr;  // the decoder `frame` came from
  std::unique_ptr<AVCodecContext, FreeCodec> first_codec;  // the first frame's own decoder, if it had one
  std::deque<AVPacket*> ahead;                   // read ahead for the first frame, not yet decoded
  std::int64_t duplicate_pts = AV_NOPTS_VALUE;   // the first frame, decoded alone: `codec` gives it again
  SwsContext* sws = nullptr;
  int rotation = 0;
  bool analysed = false;  // avformat_find_stream_info ran
  bool first_alone = false;  // the next grab() is the first: try first_frame_alone()
  int threads = 0;           // the decoders' (0: one per core)
  std::int64_t max_pixels = 0;  // the largest frame a decoder may make
  int first_width = 0, first_height = 0;  // the first frame's size, once retrieved
  int coded_width = 0, coded_height = 0;  // the decoder's for it
  bool valid = false;  // `frame` holds the frame grab() decoded
  AVFrame* bgr = nullptr;  // the conversion's output, at the decoder's coded size
  AVFrame* source = nullptr;  // `frame` at its coded size, for a conversion straight into the caller's frame
  AVFrame* target = nullptr;  // the caller's frame, as swscale's output

  ~State() {
    for (AVPacket* p : ahead) av_packet_free(&p);
    sws_freeContext(sws);
    av_frame_free(&target);
    av_frame_free(&source);
    av_frame_free(&bgr);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&codec);
    avformat_close_input(&format);
  }
};

AvDecoder::AvDecoder(std::unique_ptr<State> state) : state_(std::move(state)) {}
AvDecoder::~AvDecoder() = default;

std::unique_ptr<AvDecoder> AvDecoder::open(const std::string& path, std::string& error, bool first_alone,
                                           int threads, std::int64_t max_pixels) {
  set_ffmpeg_log_level();
  auto s = std::make_unique<State>();
  if (avformat_open_input(&s->format, path.c_str(), nullptr, nullptr) != 0) {
    error = "not a video FFmpeg can read";
    return nullptr;
  }
  // What the header says of the size is checked before anything is decoded, and again after.
  const auto too_large = [&](std::string& why) {
    for (unsigned i = 0; i < s->format->nb_streams; ++i) {
      const AVCodecParameters* p = s->format->streams[i]->codecpar;
      if (p->codec_type == AVMEDIA_TYPE_VIDEO && static_cast<std::int64_t>(p->width) * p->height > max_pixels) {
        why = "its frames are " + std::to_string(p->width) + "x" + std::to_string(p->height) + ", more than " +
              std::to_string(max_pixels) + " pixels (limits.max_frame_pixels)";
        return true;
      }
    }
    return false;
  };
  if (too_large(error)) return nullptr;
  s->analysed = !header_tells_all(s->format);
  if (s->analysed) {
    // The analysis decodes frames: with the same bound as the decoder's.
    std::vector<AVDictionary*> options(s->format->nb_streams, nullptr);
    for (AVDictionary*& o : options) av_dict_set_int(&o, "max_pixels", max_pixels, 0);
    const int analysed = avformat_find_stream_info(s->format, options.data());
    for (AVDictionary*& o : options) av_dict_free(&o);
    if (analysed < 0) {
      error = "not a video FFmpeg can read";
      return nullptr;
    }
  }
  const int index = first_video_stream(s->format);
  if (index < 0) {
    error = "it has no video";
    return nullptr;
  }
  s->stream = s->format->streams[index];
  if (too_large(error)) return nullptr;
  s->max_pixels = max_pixels;
  const AVCodec* decoder = avcodec_find_decoder(s->stream->codecpar->codec_id);
  if (!decoder) {
    error = "FFmpeg has no decoder for its video (" + std::string(avcodec_get_name(s->stream->codecpar->codec_id)) + ")";
    return nullptr;
  }
  s->threads = threads;
  s->codec = new_codec_context(decoder, s->stream, threads, max_pixels);
  s->packet = av_packet_alloc();
  s->frame = av_frame_alloc();
  s->bgr = av_frame_alloc();
  s->source = av_frame_alloc();
  s->target = av_frame_alloc();
  if (!s->codec || !s->packet || !s->frame || !s->bgr || !s->source || !s->target) {
    error = "out of memory";
    return nullptr;
  }
  if (avcodec_open2(s->codec, decoder, nullptr) < 0) {
    error = "FFmpeg cannot open its decoder (" + std::string(decoder->name) + ")";
    return nullptr;
  }
  s->rotation = rotation_of(s->stream);
  s->first_alone = first_alone;
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

bool AvDecoder::analysed() const { return state_->analysed; }

bool AvDecoder::grab() {
  State& s = *state_;
  if (s.first_alone) {
    s.first_alone = false;
    if (first_frame_alone()) return s.valid = true;
  }
  // A decoder that gives up on packet after packet gives up on the file.
  constexpr int kMaxErrors = 1 << 9;
  int errors = 0;
  s.frame_codec = s.codec;
  s.first_codec.reset();
  s.valid = receive_status() >= 0;
  while (!s.valid) {
    const int read = next_packet();
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
    const int received = receive_status();
    if (received >= 0) {
      s.valid = true;
    } else if (received != AVERROR(EAGAIN) && ++errors > kMaxErrors) {
      break;
    }
  }
  av_packet_unref(s.packet);
  return s.valid;
}

int AvDecoder::next_packet() {
  State& s = *state_;
  av_packet_unref(s.packet);
  if (s.ahead.empty()) return av_read_frame(s.format, s.packet);
  AVPacket* p = s.ahead.front();
  s.ahead.pop_front();
  av_packet_move_ref(s.packet, p);
  av_packet_free(&p);
  return 0;
}

int AvDecoder::receive_status() {
  State& s = *state_;
  int received = avcodec_receive_frame(s.codec, s.frame);
  // The first frame was decoded alone and handed out: the decoder's own copy of it is not again.
  if (received >= 0 && s.duplicate_pts != AV_NOPTS_VALUE) {
    const bool duplicate = s.frame->pts == s.duplicate_pts;
    s.duplicate_pts = AV_NOPTS_VALUE;
    if (duplicate) received = avcodec_receive_frame(s.codec, s.frame);
  }
  return received;
}

// The decoder hands out its first frame only once it has decoded as many more as the stream may
// show before it (H.264 with B-frames: 4-6 packets, about twice the time of the first alone), and
// that is on the way to the first frame written. Where the first packet is a key
// frame shown before every packet after it up to the deepest reordering H.264 allows (16), it is
// the first frame shown, and an intra frame decodes to the same pixels alone: a decoder of its
// own decodes it, and the main decoder's copy of it is left out when it comes.
bool AvDecoder::first_frame_alone() {
  State& s = *state_;
  // Intra-only codecs (MJPEG, FFV1) show each frame as it is decoded: nothing to gain.
  const AVCodecDescriptor* descriptor = avcodec_descriptor_get(s.stream->codecpar->codec_id);
  if (!descriptor || (descriptor->props & AV_CODEC_PROP_INTRA_ONLY)) return false;
  constexpr std::size_t kReorderWindow = 16;
  std::size_t video = 0;
  while (video < kReorderWindow) {
    AVPacket* p = av_packet_alloc();
    if (!p) return false;
    if (av_read_frame(s.format, p) < 0) {
      av_packet_free(&p);
      break;
    }
    if (p->stream_index != s.stream->index) {
      av_packet_free(&p);
      continue;
    }
    s.ahead.push_back(p);
    ++video;
  }
  if (s.ahead.empty()) return false;
  const AVPacket* first = s.ahead.front();
  if (!(first->flags & AV_PKT_FLAG_KEY) || (first->flags & AV_PKT_FLAG_DISCARD) || first->pts == AV_NOPTS_VALUE)
    return false;
  for (std::size_t i = 1; i < s.ahead.size(); ++i)
    if (s.ahead[i]->pts == AV_NOPTS_VALUE || s.ahead[i]->pts <= first->pts) return false;

  const AVCodec* decoder = s.codec->codec;  // the main decoder's
  // One frame: threads on its slices, if it has several (frame threads would only wait).
  AVCodecContext* alone = new_codec_context(decoder, s.stream, s.threads, s.max_pixels, FF_THREAD_SLICE);
  if (!alone) return false;
  // Kept until the next frame is grabbed: retrieve() reads the frame's coded size from it.
  s.first_codec.reset(alone);
  if (avcodec_open2(alone, decoder, nullptr) < 0 || avcodec_send_packet(alone, first) < 0 ||
      avcodec_send_packet(alone, nullptr) < 0 || avcodec_receive_frame(alone, s.frame) < 0)
    return false;
  if (s.frame->pts != first->pts) return false;
  s.frame_codec = alone;
  s.duplicate_pts = first->pts;
  get_logger("source")->debug("first frame decoded alone (shown before the {} packets after it)", s.ahead.size() - 1);
  return true;
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
    const AVCodecContext* c = s.frame_codec;
    const bool context_agrees = c->width == s.frame->width && c->height == s.frame->height;
    s.coded_width = context_agrees ? std::max(c->coded_width, s.frame->width) : s.frame->width;
    s.coded_height = context_agrees ? std::max(c->coded_height, s.frame->height) : s.frame->height;
  }
  const bool first_size = s.frame->width == s.first_width && s.frame->height == s.first_height;
  const int coded_width = first_size ? s.coded_width : s.frame->width;
  const int coded_height = first_size ? s.coded_height : s.frame->height;
  s.sws = sws_getCachedContext(s.sws, coded_width, coded_height, static_cast<AVPixelFormat>(s.frame->format),
                               coded_width, coded_height, AV_PIX_FMT_BGR24, SWS_BICUBIC, nullptr, nullptr, nullptr);
  if (!s.sws) return false;
  const bool straight = s.rotation == 0 && convert_into(coded_width, coded_height, into);
  // Told once a process (one file source, whose passes convert alike), of a frame going into the
  // caller's frame: not of one decoded at open to learn the size, into a frame of its own.
  static std::atomic<bool> told_conversion{false};
  if ((straight || !into.empty()) && !told_conversion.exchange(true)) {
    get_logger("source")->debug("frames converted to BGR {}", straight ? "straight into the slots"
                                                                         : "at the coded size, then copied");
  }
  if (straight) return true;
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

namespace {
void keep_buffer(void*, std::uint8_t*) {}  // the caller's frame: not swscale's to free
}  // namespace

// The conversion of retrieve(), its shown rows written straight into `into` instead of a frame of
// the coded size copied from (a copy of every frame saved). Only where the bytes are
// known to be the same and swscale keeps within the frame: 8-bit 4:2:0, which it converts row by
// row, at a width that is a multiple of 16, into a frame of the shown size with rows of exactly its
// width. Its SSSE3 code writes 16 pixels at a time: at a width that is a multiple of 8 only, each
// row's last store runs 8 pixels (24 bytes) past the row, past the frame at the last row (into the
// next slot's buffer, or off the segment; VP9, HEVC and MJPEG have such widths: 360x640); at
// other widths it leaves the row's last pixels unconverted. The coded rows below the shown ones
// (1080p H.264: 1088) are converted and not kept.
bool AvDecoder::convert_into(int coded_width, int coded_height, cv::Mat& into) {
  State& s = *state_;
  const AVFrame& f = *s.frame;
  const bool planar_420 = f.format == AV_PIX_FMT_YUV420P || f.format == AV_PIX_FMT_YUVJ420P;
  const auto row_bytes = static_cast<std::size_t>(f.width) * 3;
  if (!planar_420 || f.width % 16 != 0 || coded_width != f.width || into.rows != f.height || into.cols != f.width ||
      into.type() != CV_8UC3 || into.step[0] != row_bytes || reinterpret_cast<std::uintptr_t>(into.data) % 32 != 0)
    return false;
  // Output rows asked for are a multiple of this, but for the frame's last.
  if (f.height != coded_height && f.height % static_cast<int>(sws_receive_slice_alignment(s.sws)) != 0) return false;
  av_frame_unref(s.source);
  av_frame_unref(s.target);
  if (av_frame_ref(s.source, &f) < 0) return false;
  s.source->width = coded_width;
  s.source->height = coded_height;
  s.target->format = AV_PIX_FMT_BGR24;
  s.target->width = coded_width;
  s.target->height = coded_height;
  s.target->buf[0] = av_buffer_create(into.data, row_bytes * static_cast<std::size_t>(f.height), keep_buffer, nullptr, 0);
  s.target->data[0] = into.data;
  s.target->linesize[0] = static_cast<int>(row_bytes);
  const bool converted = s.target->buf[0] && sws_frame_start(s.sws, s.target, s.source) >= 0 &&
                         sws_send_slice(s.sws, 0, static_cast<unsigned>(coded_height)) >= 0 &&
                         sws_receive_slice(s.sws, 0, static_cast<unsigned>(f.height)) >= 0;
  sws_frame_end(s.sws);  // also after a failed start: it lets go of what the start took
  av_frame_unref(s.target);
  av_frame_unref(s.source);
  return converted;
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
