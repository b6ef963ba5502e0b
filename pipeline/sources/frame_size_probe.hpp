// FrameSizeProbe: the frame size each packet of a video file announces, read alongside OpenCV.
//
// OpenCV 4.6's FFmpeg backend does not notice a stream whose frame size changes mid-stream (e.g.
// MPEG-TS segments of two resolutions joined): it keeps converting at the first size and returns
// garbled frames without an error. The probe demuxes the same file a second time and runs FFmpeg's
// parser (no decoding) over each video packet, which reads the size from the sequence headers, so
// the file source can stop before it hands out the first frame of another size.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace cvpipe {

struct PacketSize {
  int width = 0, height = 0;
  bool operator==(const PacketSize&) const = default;
};

class FrameSizeProbe {
 public:
  // Opens `path`; nullptr if FFmpeg cannot (the probe is then simply not used).
  static std::unique_ptr<FrameSizeProbe> open(const std::string& path);
  ~FrameSizeProbe();
  FrameSizeProbe(const FrameSizeProbe&) = delete;
  FrameSizeProbe& operator=(const FrameSizeProbe&) = delete;

  // The next video packet's frame size, or nullopt when its codec's parser does not tell (MJPEG,
  // FFV1, ...) or the file has no more packets.
  std::optional<PacketSize> next();

 private:
  struct State;
  explicit FrameSizeProbe(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cvpipe
