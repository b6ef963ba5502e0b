#pragma once
// What the box detectors (hog_people, haar_faces) share: detecting on a smaller copy of the frame
// (detect_width), and adding what they found to the frame.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <string_view>
#include <tuple>
#include <vector>

#include "pipeline/core/frame.hpp"

namespace cvpipe {

// "Detect small, draw big": the image to detect on, `frame` itself or, when `detect_width` is
// narrower than it, a copy scaled to that width (aspect kept, INTER_AREA) in `scratch`; and the
// factor from its coordinates to the frame's.
struct DetectionImage {
  const cv::Mat& image;
  double to_frame;  // 1 for the frame itself
};
inline DetectionImage detection_image(const cv::Mat& frame, int detect_width, cv::Mat& scratch) {
  if (detect_width <= 0 || detect_width >= frame.cols) return {frame, 1.0};
  const int height = std::max(1, static_cast<int>(std::lround(frame.rows * static_cast<double>(detect_width) / frame.cols)));
  cv::resize(frame, scratch, cv::Size(detect_width, height), 0, 0, cv::INTER_AREA);
  return {scratch, static_cast<double>(frame.cols) / detect_width};
}

// Boxes found on a detection image, in the frame's coordinates: scaled by `to_frame`, rounded,
// and kept inside the frame.
inline void boxes_to_frame(std::vector<cv::Rect>& boxes, double to_frame, cv::Size frame) {
  if (to_frame == 1.0) return;
  for (cv::Rect& b : boxes) {
    const int x0 = static_cast<int>(std::lround(b.x * to_frame)), y0 = static_cast<int>(std::lround(b.y * to_frame));
    const int x1 = static_cast<int>(std::lround((b.x + b.width) * to_frame));
    const int y1 = static_cast<int>(std::lround((b.y + b.height) * to_frame));
    b = cv::Rect(cv::Point(x0, y0), cv::Point(x1, y1)) & cv::Rect(0, 0, frame.width, frame.height);
  }
}

// Adds boxes[i] with scores[i] (0 where the detector gave none) for each i in `order`, sorted top
// to bottom, then left to right, so the detections do not depend on the detector's own order.
template <class Score>
void add_boxes_in_reading_order(Detections& out, std::string_view label, const std::vector<cv::Rect>& boxes,
                                const std::vector<Score>& scores, std::vector<std::size_t>& order) {
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const cv::Rect &ra = boxes[a], &rb = boxes[b];
    return std::tie(ra.y, ra.x, ra.height, ra.width) < std::tie(rb.y, rb.x, rb.height, rb.width);
  });
  for (std::size_t i : order) {
    const cv::Rect& box = boxes[i];
    out.add(label, box.x, box.y, box.width, box.height, i < scores.size() ? static_cast<float>(scores[i]) : 0.f);
  }
}

}  // namespace cvpipe
