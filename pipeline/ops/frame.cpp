#include "pipeline/ops/frame.hpp"

#include <opencv2/core.hpp>

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

}  // namespace cvpipe
