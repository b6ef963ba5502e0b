#include "pipeline/modules/av/packet_probe.hpp"

#include <algorithm>
#include <cstdio>

#include "pipeline/modules/av/av_decoder.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace cvpipe {

struct PacketProbe::State {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;  // the parser's scratch context; nothing is decoded
  AVCodecParserContext* parser = nullptr;  // null: the codec has none
  AVPacket* packet = nullptr;
  int stream = -1;
  bool ended = false;       // no more packets
  bool seen_key = false;    // a keyframe was read
  std::int64_t packets = 0;  // video packets read
  std::int64_t corrupt_at = -1;  // the first packet the demuxer flagged corrupt (by number)
  std::int64_t end_ts = AV_NOPTS_VALUE;  // the latest pts + duration seen, in the stream's time base

  ~State() {
    av_packet_free(&packet);
    if (parser) av_parser_close(parser);
    avcodec_free_context(&codec);
    avformat_close_input(&format);
  }

  // Runs the parser over `packet`: the frame size its sequence headers tell, if any.
  std::optional<PacketSize> parse() {
    if (!parser) return std::nullopt;
    std::uint8_t* out = nullptr;
    int out_size = 0;
    av_parser_parse2(parser, codec, &out, &out_size, packet->data, packet->size, packet->pts, packet->dts,
                     packet->pos);
    if (parser->width > 0 && parser->height > 0) return PacketSize{parser->width, parser->height};
    return std::nullopt;
  }

  // Reads the next packet of the video stream into `packet`; false at the end (or a read error).
  bool read() {
    while (!ended) {
      if (av_read_frame(format, packet) < 0) {
        ended = true;
        break;
      }
      if (packet->stream_index == stream) {
        if (packet->flags & AV_PKT_FLAG_KEY) seen_key = true;
        // Not frames of OpenCV's, so not counted; their sequence headers still tell the parser
        // the frame size. Decoded but never shown: before the start of an MP4/MOV edit list (a
        // file cut with `ffmpeg -ss ... -c copy` begins at the keyframe before the cut). Not
        // decodable: before the first keyframe (an MPEG-TS cut out of the middle of a stream),
        // which FFmpeg's decoders skip.
        if ((packet->flags & AV_PKT_FLAG_DISCARD) || !seen_key) {
          parse();
          av_packet_unref(packet);
          continue;
        }
        if ((packet->flags & AV_PKT_FLAG_CORRUPT) && corrupt_at < 0) corrupt_at = packets;
        ++packets;
        const std::int64_t ts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
        if (ts != AV_NOPTS_VALUE) {
          const std::int64_t end = ts + std::max<std::int64_t>(0, packet->duration);
          if (end_ts == AV_NOPTS_VALUE || end > end_ts) end_ts = end;
        }
        return true;
      }
      av_packet_unref(packet);
    }
    return false;
  }
};

PacketProbe::PacketProbe(std::unique_ptr<State> state) : state_(std::move(state)) {}
PacketProbe::~PacketProbe() = default;

std::unique_ptr<PacketProbe> PacketProbe::open(const std::string& path) {
  auto s = std::make_unique<State>();
  if (avformat_open_input(&s->format, path.c_str(), nullptr, nullptr) != 0) return nullptr;
  // The stream the decoder reads (av_decoder.hpp).
  s->stream = first_video_stream(s->format);
  if (s->stream < 0) {
    // Some containers name their streams only once packets were read.
    if (avformat_find_stream_info(s->format, nullptr) < 0) return nullptr;
    s->stream = first_video_stream(s->format);
    if (s->stream < 0) return nullptr;
  }
  s->packet = av_packet_alloc();
  if (!s->packet) return nullptr;
  const AVCodecParameters* parameters = s->format->streams[s->stream]->codecpar;
  s->parser = av_parser_init(parameters->codec_id);
  if (s->parser) {
    // Demuxers hand out whole frames; the parser then reads each at once instead of buffering it.
    s->parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;
    s->codec = avcodec_alloc_context3(nullptr);
    if (!s->codec || avcodec_parameters_to_context(s->codec, parameters) < 0) return nullptr;
  }
  return std::unique_ptr<PacketProbe>(new PacketProbe(std::move(s)));
}

std::optional<PacketSize> PacketProbe::next() {
  State& s = *state_;
  if (!s.read()) return std::nullopt;
  const std::optional<PacketSize> size = s.parse();
  av_packet_unref(s.packet);
  return size;
}

std::optional<std::string> PacketProbe::shortfall(std::int64_t frames) {
  State& s = *state_;
  const std::int64_t read_before = s.packets;
  while (s.read()) av_packet_unref(s.packet);
  const std::int64_t left = s.packets - std::max(read_before, frames);
  char text[256];
  if (s.corrupt_at >= 0) {
    std::snprintf(text, sizeof text, "packet %lld of its video stream is corrupt", static_cast<long long>(s.corrupt_at));
    return std::string(text);
  }
  if (left > std::max<std::int64_t>(2, s.packets / 100)) {
    std::snprintf(text, sizeof text, "%lld of its %lld video packets were left when decoding stopped",
                  static_cast<long long>(left), static_cast<long long>(s.packets));
    return std::string(text);
  }
  // What the container announces for the video: its stream's duration (MP4, MOV, AVI); else the
  // DURATION tag FFmpeg's Matroska muxer writes per track; else the file's duration from its
  // header, when no other stream could be what makes it longer. MPEG-TS announces none.
  const AVStream* st = s.format->streams[s.stream];
  const double tb = av_q2d(st->time_base);
  const double start = st->start_time != AV_NOPTS_VALUE ? static_cast<double>(st->start_time) * tb : 0.0;
  double announced = -1;
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
    announced = static_cast<double>(st->duration) * tb;
  } else if (const AVDictionaryEntry* tag = av_dict_get(st->metadata, "DURATION", nullptr, 0)) {
    int h = 0, m = 0;
    double sec = 0;
    if (std::sscanf(tag->value, "%d:%d:%lf", &h, &m, &sec) == 3) announced = h * 3600.0 + m * 60.0 + sec;
  } else if (s.format->nb_streams == 1 && s.format->duration != AV_NOPTS_VALUE && s.format->duration > 0) {
    // Set at open only by demuxers that read it from the header (Matroska's segment duration).
    announced = static_cast<double>(s.format->duration) / AV_TIME_BASE;
  }
  if (announced <= 0 || s.end_ts == AV_NOPTS_VALUE) return std::nullopt;
  const double reached = static_cast<double>(s.end_ts) * tb - start;
  const double fps = av_q2d(st->avg_frame_rate) > 0 ? av_q2d(st->avg_frame_rate) : 25.0;
  if (reached >= announced - std::max(1.0, 2.0 / fps)) return std::nullopt;
  std::snprintf(text, sizeof text, "its video ends at %.2f s of the %.2f s it announces", reached, announced);
  return std::string(text);
}

}  // namespace cvpipe
