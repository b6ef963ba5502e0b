#pragma once
// FrameFormat and FrameMeta: what every op, source, sink and the shared segment agree on about a
// frame. Plain data, no OpenCV: a frame's type is OpenCV's type code, read here bit by bit.
#include <cstdint>
#include <string>
#include <string_view>

namespace cvpipe {

// Size and OpenCV type (CV_8UC3, CV_8UC1, ...) of a frame. Known for every point of a pipeline
// before any frame flows, so shared-memory slots are sized once.
struct FrameFormat {
  int width = 0;
  int height = 0;
  int type = 0;  // an OpenCV type code, e.g. CV_8UC3; any int reads as some depth and channel count

  std::size_t bytes() const;       // width * height * element size
  int channels() const;
  int depth() const;               // CV_8U, CV_16S, ...
  std::string describe() const;    // "640x480 8UC3"
  bool is_8bit_gray_or_bgr() const;  // CV_8UC1 or CV_8UC3: what every op and file sink takes
  bool operator==(const FrameFormat&) const = default;
};

// One result an op found in a frame: a detected object (class "person", "face"), a motion region
// ("motion") or a motion vector ("flow": the box is the cell, dx/dy the mean displacement in pixels
// per frame). Boxes are in the pixel coordinates of the frame as it is at that point of the chain
// (an op that changes the frame's geometry, such as resize, moves them with it).
struct Detection {
  static constexpr std::size_t kLabelSize = 16;
  static constexpr std::uint32_t kHasVector = 1;  // dx, dy are meaningful
  char label[kLabelSize];  // NUL-terminated class name, cut to fit
  std::int32_t x, y, w, h;
  float score;             // the detector's own confidence measure (see each op)
  float dx, dy;
  std::uint32_t flags;

  std::string_view label_view() const noexcept;  // up to the NUL, or the whole array if there is none
};

// A fixed-capacity list of detections: it lives in shared memory, so it never allocates. What does
// not fit is counted in `overflow`.
struct Detections {
  static constexpr std::uint32_t kCapacity = 64;
  std::uint32_t count = 0;
  std::uint32_t overflow = 0;
  Detection items[kCapacity];

  // Appends a detection (label cut to kLabelSize - 1 bytes); false, counting it in overflow, when full.
  bool add(std::string_view label, int x, int y, int w, int h, float score);
  bool add_vector(std::string_view label, int x, int y, int w, int h, float score, float dx, float dy);
  // The number of valid items: count, clamped to the capacity (a worker may have written anything).
  std::uint32_t size() const noexcept { return count < kCapacity ? count : kCapacity; }
  const Detection* begin() const noexcept { return items; }
  const Detection* end() const noexcept { return items + size(); }
  Detection* begin() noexcept { return items; }
  Detection* end() noexcept { return items + size(); }
  void clear() noexcept { count = overflow = 0; }
};

// What travels with a frame through every stage (lives in the slot's metadata in shared memory,
// so trivially copyable and fixed size).
struct FrameMeta {
  std::uint64_t seq = 0;         // capture order, from 0
  std::int64_t pts_us = 0;       // media time: position in the file, or seq / fps for generated frames
  std::int64_t capture_ns = 0;   // CLOCK_MONOTONIC when the frame was captured (latency)
  Detections detections{};       // what the ops found so far, for later ops and the results file
};

}  // namespace cvpipe
