#pragma once
// What the box detectors (hog_people, haar_faces) share: adding what they found to the frame.
#include <opencv2/core/types.hpp>

#include <algorithm>
#include <string_view>
#include <tuple>
#include <vector>

#include "pipeline/core/frame.hpp"

namespace cvpipe {

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
