#include "pipeline/sources/frame_size_probe.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace cvpipe {

struct FrameSizeProbe::State {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;  // the parser's scratch context; nothing is decoded
  AVCodecParserContext* parser = nullptr;
  AVPacket* packet = nullptr;
  int stream = -1;

  ~State() {
    av_packet_free(&packet);
    if (parser) av_parser_close(parser);
    avcodec_free_context(&codec);
    avformat_close_input(&format);
  }
};

FrameSizeProbe::FrameSizeProbe(std::unique_ptr<State> state) : state_(std::move(state)) {}
FrameSizeProbe::~FrameSizeProbe() = default;

std::unique_ptr<FrameSizeProbe> FrameSizeProbe::open(const std::string& path) {
  auto s = std::make_unique<State>();
  if (avformat_open_input(&s->format, path.c_str(), nullptr, nullptr) != 0) return nullptr;
  s->stream = av_find_best_stream(s->format, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (s->stream < 0) {
    // Some containers name their streams' codecs only once packets were read.
    if (avformat_find_stream_info(s->format, nullptr) < 0) return nullptr;
    s->stream = av_find_best_stream(s->format, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (s->stream < 0) return nullptr;
  }
  const AVCodecParameters* parameters = s->format->streams[s->stream]->codecpar;
  s->parser = av_parser_init(parameters->codec_id);
  if (!s->parser) return nullptr;  // a codec without a parser (MJPEG, FFV1, raw): nothing to learn
  // Demuxers hand out whole frames; the parser then reads each at once instead of buffering it.
  s->parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;
  s->codec = avcodec_alloc_context3(nullptr);
  s->packet = av_packet_alloc();
  if (!s->codec || !s->packet || avcodec_parameters_to_context(s->codec, parameters) < 0) return nullptr;
  return std::unique_ptr<FrameSizeProbe>(new FrameSizeProbe(std::move(s)));
}

std::optional<PacketSize> FrameSizeProbe::next() {
  State& s = *state_;
  while (av_read_frame(s.format, s.packet) >= 0) {
    if (s.packet->stream_index != s.stream) {
      av_packet_unref(s.packet);
      continue;
    }
    std::uint8_t* out = nullptr;
    int out_size = 0;
    av_parser_parse2(s.parser, s.codec, &out, &out_size, s.packet->data, s.packet->size, s.packet->pts,
                     s.packet->dts, s.packet->pos);
    av_packet_unref(s.packet);
    if (s.parser->width > 0 && s.parser->height > 0) return PacketSize{s.parser->width, s.parser->height};
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace cvpipe
