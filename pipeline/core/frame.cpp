#include "pipeline/core/frame.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace cvpipe {
namespace {

// OpenCV's type codes (opencv2/core/hal/interface.h), which core reads without linking OpenCV:
// the depth in the low 3 bits (CV_8U = 0 ... CV_16F = 7), the channel count less one above them.
constexpr int kDepthBits = 3;
constexpr int kChannelBits = 9;  // CV_CN_MAX = 512
constexpr std::array<const char*, 8> kDepthNames = {"8U", "8S", "16U", "16S", "32S", "32F", "64F", "16F"};
constexpr std::array<std::size_t, 8> kDepthBytes = {1, 1, 2, 2, 4, 4, 8, 2};

}  // namespace

int FrameFormat::depth() const { return type & ((1 << kDepthBits) - 1); }
int FrameFormat::channels() const { return ((type >> kDepthBits) & ((1 << kChannelBits) - 1)) + 1; }

std::size_t FrameFormat::bytes() const {
  return static_cast<std::size_t>(width) * static_cast<std::size_t>(height) *
         kDepthBytes[static_cast<std::size_t>(depth())] * static_cast<std::size_t>(channels());
}

bool FrameFormat::is_8bit_gray_or_bgr() const { return depth() == 0 && (channels() == 1 || channels() == 3); }

std::string FrameFormat::describe() const {
  return std::to_string(width) + "x" + std::to_string(height) + " " + kDepthNames[static_cast<std::size_t>(depth())] +
         "C" + std::to_string(channels());
}

std::string_view Detection::label_view() const noexcept {
  return {label, static_cast<std::size_t>(std::find(label, label + kLabelSize, '\0') - label)};
}

bool Detections::add_vector(std::string_view label, int x, int y, int w, int h, float score, float dx, float dy) {
  if (count >= kCapacity) {
    ++overflow;
    return false;
  }
  Detection& d = items[count++];
  const std::size_t n = std::min(label.size(), Detection::kLabelSize - 1);
  std::memset(d.label, 0, sizeof d.label);
  std::memcpy(d.label, label.data(), n);
  d.x = x;
  d.y = y;
  d.w = w;
  d.h = h;
  d.score = score;
  d.dx = dx;
  d.dy = dy;
  d.flags = Detection::kHasVector;
  return true;
}

bool Detections::add(std::string_view label, int x, int y, int w, int h, float score) {
  if (!add_vector(label, x, y, w, h, score, 0, 0)) return false;
  items[count - 1].flags = 0;
  return true;
}

}  // namespace cvpipe
