#include "pipeline/modules/av/av_encoder.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "pipeline/modules/av/av_common.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace cvpipe {
namespace {

// The time base of containers that time each frame: fine enough for any capture clock, and within
// MPEG-4 Part 2's 16 bits. 60000 is a multiple of every common rate (24, 25, 30, 50, 60, 30000/1001).
constexpr AVRational kTimedBase{1, 60000};

// Whether a container keeps each frame's time (MP4 and MOV do, without saying so in their flags);
// the others hold one frame rate.
bool keeps_frame_times(const AVOutputFormat* container) {
  return (container->flags & AVFMT_VARIABLE_FPS) || av_match_name(container->name, "mov,mp4,3gp,3g2,psp,ipod,ismv,f4v");
}

// Browsers play H.264 in 4:2:0 only; other codecs get the format nearest BGR they take (lossless
// FFV1 keeps every bit).
AVPixelFormat pixel_format_for(const AVCodec* codec, AVPixelFormat source) {
  if (!codec->pix_fmts) return source;
  if (codec->id == AV_CODEC_ID_H264)
    for (const AVPixelFormat* p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; ++p)
      if (*p == AV_PIX_FMT_YUV420P) return *p;
  return avcodec_find_best_pix_fmt_of_list(codec->pix_fmts, source, 0, nullptr);
}

struct CodecContextFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

// A four-character code as FFmpeg's tag tables hold it.
unsigned fourcc_tag(const std::string& fourcc) { return static_cast<unsigned>(MKTAG(fourcc[0], fourcc[1], fourcc[2], fourcc[3])); }

}  // namespace

AVCodecID codec_for_fourcc(const AVOutputFormat* container, const std::string& fourcc) {
  if (fourcc.size() != 4) return AV_CODEC_ID_NONE;
  const unsigned tag = fourcc_tag(fourcc);
  AVCodecID codec = container && container->codec_tag ? av_codec_get_id(container->codec_tag, tag) : AV_CODEC_ID_NONE;
  if (codec == AV_CODEC_ID_NONE) {
    const AVCodecTag* const tables[] = {avformat_get_riff_video_tags(), avformat_get_mov_video_tags(), nullptr};
    codec = av_codec_get_id(tables, tag);
  }
  if (codec == AV_CODEC_ID_NONE) {
    std::string name;
    for (char c : fourcc) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (const AVCodecDescriptor* d = avcodec_descriptor_get_by_name(name.c_str())) codec = d->id;
  }
  return codec;
}

struct AvEncoder::State {
  EncoderSettings settings;
  AVFormatContext* format = nullptr;  // owns its AVIOContext while open
  AVStream* stream = nullptr;
  std::unique_ptr<AVCodecContext, CodecContextFree> codec;
  std::unique_ptr<AVFrame, FrameFree> frame;
  std::unique_ptr<AVPacket, PacketFree> packet;
  std::unique_ptr<SwsContext, SwsFree> sws;
  int width = 0, height = 0, channels = 0;  // of the frames given
  bool timed = false;                       // the container keeps each frame's time
  bool finished = false;
  std::int64_t frames = 0;   // sent to the encoder
  std::int64_t packets = 0;  // written to the file
  std::int64_t first_pts_us = 0;
  std::int64_t last_pts = -1;  // in the codec's time base

  ~State() {
    if (format) {
      if (format->pb) avio_closep(&format->pb);
      avformat_free_context(format);
    }
  }
};

AvEncoder::AvEncoder(std::unique_ptr<State> state) : state_(std::move(state)) {}

AvEncoder::~AvEncoder() {
  std::string ignored;
  (void)finish(ignored);
}

std::unique_ptr<AvEncoder> AvEncoder::open(const EncoderSettings& settings, int width, int height, int channels,
                                           std::string& error) {
  set_ffmpeg_log_level();
  auto s = std::make_unique<State>();
  s->settings = settings;
  s->width = width;
  s->height = height;
  s->channels = channels;
  if (width < 1 || height < 1 || (channels != 1 && channels != 3)) {
    error = "frames of " + std::to_string(width) + "x" + std::to_string(height) + " with " +
            std::to_string(channels) + " channels cannot be encoded";
    return nullptr;
  }
  if (int rc = avformat_alloc_output_context2(&s->format, nullptr, nullptr, settings.path.c_str()); rc < 0 || !s->format) {
    error = "FFmpeg has no container for the extension of " + settings.path;
    return nullptr;
  }
  const AVOutputFormat* container = s->format->oformat;
  const AVCodecID id = codec_for_fourcc(container, settings.fourcc);
  const AVCodec* encoder = id == AV_CODEC_ID_NONE ? nullptr : avcodec_find_encoder(id);
  if (!encoder) {
    error = "this FFmpeg has no encoder for fourcc " + settings.fourcc;
    return nullptr;
  }
  s->timed = keeps_frame_times(container) && !settings.constant_rate;
  const AVPixelFormat source_format = channels == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_BGR24;
  const AVPixelFormat pixels = pixel_format_for(encoder, source_format);
  // Chroma subsampling needs sides that are multiples of 2 (or 4): an odd last row or column is left out.
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(pixels);
  const int coded_width = width & ~((1 << desc->log2_chroma_w) - 1);
  const int coded_height = height & ~((1 << desc->log2_chroma_h) - 1);
  if (coded_width < 1 || coded_height < 1) {
    error = "frames of " + std::to_string(width) + "x" + std::to_string(height) + " are too small for " + encoder->name;
    return nullptr;
  }

  s->codec.reset(avcodec_alloc_context3(encoder));
  s->packet.reset(av_packet_alloc());
  s->frame.reset(av_frame_alloc());
  if (!s->codec || !s->packet || !s->frame) {
    error = "out of memory";
    return nullptr;
  }
  AVCodecContext* c = s->codec.get();
  const double fps = std::clamp(settings.fps > 0 ? settings.fps : 25.0, 0.01, 1000.0);
  c->width = coded_width;
  c->height = coded_height;
  c->pix_fmt = pixels;
  c->framerate = av_d2q(fps, 100000);
  c->time_base = s->timed ? kTimedBase : av_inv_q(c->framerate);
  c->gop_size = static_cast<int>(std::clamp(std::lround(fps * settings.keyframe_interval_s), 1L, 100000L));
  c->thread_count = 0;  // one per core
  if (encoder->id != AV_CODEC_ID_H264) {
    // A constant quantizer, as fine as OpenCV's writer lets these codecs go (its qmin): a bit rate
    // would be spread over the time base's ticks, not over frames, when frames keep their times.
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = FF_QP2LAMBDA * 3;
  }
  if (container->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (!settings.preset.empty()) av_opt_set(c->priv_data, "preset", settings.preset.c_str(), 0);
  if (int rc = avcodec_open2(c, encoder, nullptr); rc < 0) {
    error = std::string("cannot start the ") + encoder->name + " encoder: " + av_error_text(rc);
    return nullptr;
  }

  s->stream = avformat_new_stream(s->format, nullptr);
  if (!s->stream || avcodec_parameters_from_context(s->stream->codecpar, c) < 0) {
    error = "out of memory";
    return nullptr;
  }
  s->stream->time_base = c->time_base;
  s->stream->avg_frame_rate = c->framerate;
  // The fourcc as written where the container takes it (XVID in AVI rather than FFmpeg's FMP4).
  const unsigned tag = fourcc_tag(settings.fourcc);  // four characters: codec_for_fourcc found a codec
  if (container->codec_tag && av_codec_get_id(container->codec_tag, tag) == encoder->id) s->stream->codecpar->codec_tag = tag;

  // "file:": the path is a file's, whatever it looks like (FFmpeg would open "tcp://..." as a connection).
  if (int rc = avio_open(&s->format->pb, ("file:" + settings.path).c_str(), AVIO_FLAG_WRITE); rc < 0) {
    error = "cannot create " + settings.path + ": " + av_error_text(rc);
    return nullptr;
  }
  if (int rc = avformat_write_header(s->format, nullptr); rc < 0) {
    error = "cannot write " + settings.path + ": " + av_error_text(rc);
    return nullptr;
  }

  s->frame->format = pixels;
  s->frame->width = coded_width;
  s->frame->height = coded_height;
  if (av_frame_get_buffer(s->frame.get(), 0) < 0) {
    error = "out of memory";
    return nullptr;
  }
  s->sws.reset(sws_getContext(coded_width, coded_height, source_format, coded_width, coded_height, pixels,
                              SWS_BICUBIC, nullptr, nullptr, nullptr));
  if (!s->sws) {
    error = std::string("swscale cannot convert to ") + av_get_pix_fmt_name(pixels);
    return nullptr;
  }
  return std::unique_ptr<AvEncoder>(new AvEncoder(std::move(s)));
}

bool AvEncoder::write(const cv::Mat& frame, std::int64_t pts_us, std::string& error) {
  State& s = *state_;
  if (s.finished) {
    error = "the video " + s.settings.path + " is closed";
    return false;
  }
  if (frame.cols != s.width || frame.rows != s.height || frame.channels() != s.channels || frame.depth() != CV_8U) {
    error = "a frame of another format than the video's";
    return false;
  }
  if (int rc = av_frame_make_writable(s.frame.get()); rc < 0) {
    error = av_error_text(rc);
    return false;
  }
  const std::uint8_t* planes[1] = {frame.data};
  const int strides[1] = {static_cast<int>(frame.step[0])};
  sws_scale(s.sws.get(), planes, strides, 0, s.codec->height, s.frame->data, s.frame->linesize);

  if (s.frames == 0) s.first_pts_us = pts_us;
  std::int64_t pts;
  if (s.settings.constant_rate) {
    pts = s.frames;
  } else {
    // The frame's time since the first, in the codec's time base (a late frame leaves a gap that
    // a one-rate container fills with a repeat).
    const AVRational tb = s.codec->time_base;
    pts = av_rescale_q(pts_us - s.first_pts_us, AVRational{1, 1000000}, tb);
  }
  if (pts <= s.last_pts) pts = s.last_pts + 1;
  s.last_pts = pts;
  s.frame->pts = pts;
  ++s.frames;
  if (int rc = avcodec_send_frame(s.codec.get(), s.frame.get()); rc < 0) {
    error = "cannot encode a frame of " + s.settings.path + ": " + av_error_text(rc);
    return false;
  }
  return drain(error);
}

bool AvEncoder::drain(std::string& error) {
  State& s = *state_;
  for (;;) {
    const int rc = avcodec_receive_packet(s.codec.get(), s.packet.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return true;
    if (rc < 0) {
      error = "cannot encode " + s.settings.path + ": " + av_error_text(rc);
      return false;
    }
    ++s.packets;
    av_packet_rescale_ts(s.packet.get(), s.codec->time_base, s.stream->time_base);
    s.packet->stream_index = s.stream->index;
    // Takes the packet's reference either way.
    if (int written = av_interleaved_write_frame(s.format, s.packet.get()); written < 0) {
      error = "cannot write " + s.settings.path + ": " + av_error_text(written);
      return false;
    }
    if (s.format->pb->error < 0) {
      error = "cannot write " + s.settings.path + ": " + av_error_text(s.format->pb->error);
      return false;
    }
  }
}

bool AvEncoder::finish(std::string& error) {
  State& s = *state_;
  if (s.finished) return true;
  s.finished = true;
  bool ok = true;
  if (avcodec_send_frame(s.codec.get(), nullptr) < 0 || !drain(error)) ok = false;
  if (ok) {
    if (int rc = av_write_trailer(s.format); rc < 0) {
      error = "cannot finish " + s.settings.path + ": " + av_error_text(rc);
      ok = false;
    }
  }
  avio_flush(s.format->pb);
  if (ok && s.format->pb->error < 0) {
    error = "cannot write " + s.settings.path + ": " + av_error_text(s.format->pb->error);
    ok = false;
  }
  if (int rc = avio_closep(&s.format->pb); ok && rc < 0) {
    error = "cannot close " + s.settings.path + ": " + av_error_text(rc);
    ok = false;
  }
  return ok;
}

std::int64_t AvEncoder::bytes_written() const {
  return state_->format && state_->format->pb ? avio_tell(state_->format->pb) : 0;
}

std::int64_t AvEncoder::frames_held() const { return state_->frames - state_->packets; }

bool AvEncoder::cropped() const { return state_->codec->width != state_->width || state_->codec->height != state_->height; }

const char* AvEncoder::encoder_name() const { return state_->codec->codec->name; }

}  // namespace cvpipe
