// PacketProbe: FFmpeg's own view of a video file's packets, read alongside the decoder
// (av_decoder.hpp), for what decoded frames do not say.
//
// - A frame size that changes mid-stream (e.g. MPEG-TS segments of two resolutions joined): the
//   probe runs FFmpeg's parser (no decoding) over each video packet, which reads the size from
//   the sequence headers, so the file source can stop before the first frame of another size and
//   say which size it is.
// - A file that stops short (truncated, or damaged past some point): the decoder just reaches the
//   end. The frame count cannot tell: a container without an index (Matroska, WebM) only has an
//   estimate, duration x fps, which a variable frame rate makes wrong. The probe compares what
//   the packets really reach with what the container announces.
//
// The probe demuxes the file a second time, one packet per frame decoded. Packets that never
// become frames are skipped: those an MP4/MOV edit list hides, and those before the first
// keyframe, which FFmpeg's decoders drop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace cvpipe {

struct PacketSize {
  int width = 0, height = 0;
  bool operator==(const PacketSize&) const = default;
};

class PacketProbe {
 public:
  // Opens `path`; nullptr if FFmpeg cannot or it has no video stream (the probe is then not used).
  static std::unique_ptr<PacketProbe> open(const std::string& path);
  ~PacketProbe();
  PacketProbe(const PacketProbe&) = delete;
  PacketProbe& operator=(const PacketProbe&) = delete;

  // Reads the next video packet: its frame size, or nullopt when its codec's parser does not
  // tell (MJPEG, FFV1, raw video have none) or the file has no more packets.
  std::optional<PacketSize> next();

  // Once decoding has ended, after `frames` frames: reads the packets left, then says how the
  // file stops short of what its container announces, or nullopt if it does not (or cannot
  // tell: MPEG-TS announces nothing). Short means: a packet the demuxer flagged corrupt; media
  // time ending more than a second (or two frames) before the duration announced for the video;
  // or more than max(2, 1%) of the packets left when the decoder produced no more frames.
  std::optional<std::string> shortfall(std::int64_t frames);

 private:
  struct State;
  explicit PacketProbe(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cvpipe
