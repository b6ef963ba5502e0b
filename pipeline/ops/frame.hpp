#pragma once
// FrameFormat and FrameMeta: what every op, source and sink agrees on about a frame.
#include <cstdint>
#include <string>

namespace cvpipe {

// Size and OpenCV type (CV_8UC3, CV_8UC1, ...) of a frame. Known for every point of a pipeline
// before any frame flows, so shared-memory slots are sized once.
struct FrameFormat {
  int width = 0;
  int height = 0;
  int type = 0;  // an OpenCV type, e.g. CV_8UC3

  std::size_t bytes() const;       // width * height * element size
  int channels() const;
  int depth() const;               // CV_8U, CV_16S, ...
  std::string describe() const;    // "640x480 8UC3"
  bool is_8bit_gray_or_bgr() const;  // CV_8UC1 or CV_8UC3: what every op and file sink takes
  bool operator==(const FrameFormat&) const = default;
};

// What travels with a frame through every stage (lives in the slot's metadata in shared memory,
// so trivially copyable and fixed size).
struct FrameMeta {
  std::uint64_t seq = 0;         // capture order, from 0
  std::int64_t pts_us = 0;       // media time: position in the file, or seq / fps for generated frames
  std::int64_t capture_ns = 0;   // CLOCK_MONOTONIC when the frame was captured (latency)
};

}  // namespace cvpipe
