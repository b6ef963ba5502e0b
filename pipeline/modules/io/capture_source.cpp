#include "pipeline/modules/io/capture_source.hpp"

#include <chrono>

namespace cvpipe {

bool CaptureSource::read_first_frame() {
  if (!cap_.read(first_) || first_.empty()) return false;
  first_ms_ = cap_.get(cv::CAP_PROP_POS_MSEC);
  format_ = FrameFormat{first_.cols, first_.rows, first_.type()};
  return true;
}

Source::Read CaptureSource::read(cv::Mat& into, FrameMeta& meta, std::string& error) {
  if (!first_.empty()) {
    first_.copyTo(into);
    first_.release();
    meta.pts_us = clock_.pts_us(first_ms_);
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
