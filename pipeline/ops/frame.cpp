#include "pipeline/ops/frame.hpp"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cstring>

namespace cvpipe {

std::size_t FrameFormat::bytes() const {
  return static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * CV_ELEM_SIZE(type);
}
int FrameFormat::channels() const { return CV_MAT_CN(type); }
int FrameFormat::depth() const { return CV_MAT_DEPTH(type); }
bool FrameFormat::is_8bit_gray_or_bgr() const { return type == CV_8UC1 || type == CV_8UC3; }
std::string FrameFormat::describe() const {
  return std::to_string(width) + "x" + std::to_string(height) + " " + cv::typeToString(type).substr(3);
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
