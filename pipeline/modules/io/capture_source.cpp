#include "pipeline/modules/io/capture_source.hpp"

#include <chrono>

namespace cvpipe {

void CaptureSource::check_size(int width, int height, const std::string& what) const {
  if (static_cast<std::int64_t>(width) * height > limits_.max_frame_pixels)
    throw InputError(what + ": its frames are " + std::to_string(width) + "x" + std::to_string(height) +
                     ", more than " + std::to_string(limits_.max_frame_pixels) + " pixels (limits.max_frame_pixels)");
}

bool CaptureSource::read_first_frame(const std::string& what) {
  // What the backend knows before decoding (the stream's header, the driver's format): a frame is
  // not decoded when it says too much.
  check_size(static_cast<int>(cap_.get(cv::CAP_PROP_FRAME_WIDTH)), static_cast<int>(cap_.get(cv::CAP_PROP_FRAME_HEIGHT)),
             what);
  if (!cap_.read(first_) || first_.empty()) return false;
  check_size(first_.cols, first_.rows, what);
  first_ms_ = cap_.get(cv::CAP_PROP_POS_MSEC);
  first_ns_ = monotonic_ns();
  format_ = FrameFormat{first_.cols, first_.rows, first_.type()};
  return true;
}

Source::Read CaptureSource::read(cv::Mat& into, FrameMeta& meta, std::string& error) {
  if (!first_.empty()) {
    first_.copyTo(into);
    first_.release();
    // Timed when it was read, not when handed out: the frames that queued up meanwhile (while the
    // workers started) are then read in a burst, and the video still lasts as long as the source ran.
    meta.pts_us = clock_.pts_us(first_ms_, first_ns_);
    return Read::kFrame;
  }
  uchar* const target = into.data;
  const auto started = std::chrono::steady_clock::now();
  if (!cap_.grab()) {
    error = grab_failed(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return Read::kError;
  }
  if (!cap_.retrieve(into) || into.empty()) {
    error = "a frame could not be decoded";
    return Read::kError;
  }
  if (into.data != target) {
    error = "its frames changed to " + std::to_string(into.cols) + "x" + std::to_string(into.rows) + " from " +
            format_.describe();
    return Read::kError;
  }
  meta.pts_us = clock_.pts_us(cap_.get(cv::CAP_PROP_POS_MSEC));
  return Read::kFrame;
}

}  // namespace cvpipe
