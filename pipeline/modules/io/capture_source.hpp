#pragma once
// CaptureSource: what the live sources read through OpenCV's cv::VideoCapture (camera, url) share.
// The type's constructor opens cap_ and calls read_first_frame(), whose frame tells the size;
// read() hands that frame out first, then grabs each next one and decodes it straight into the
// slot. A frame whose size changed (the stream reconfigured) is an error, for ReconnectingSource
// to open the source again.
//
// Capture thread only.
#include <opencv2/videoio.hpp>

#include <string>

#include "pipeline/modules/io/reconnecting_source.hpp"
#include "pipeline/runtime/source.hpp"

namespace cvpipe {

class CaptureSource : public Source {
 public:
  FrameFormat format() const override { return format_; }
  double fps() const override { return fps_; }
  Read read(cv::Mat& into, FrameMeta& meta, std::string& error) final;

 protected:
  explicit CaptureSource(const SourceLimits& limits) : limits_(limits) {}
  // Reads the first frame from the open cap_ and sets format_; false if none came. Throws
  // InputError naming `what` when the frames (as the backend announces them, then as the first
  // decodes) are larger than the limits allow.
  bool read_first_frame(const std::string& what);
  // Why grab() returned no frame, after waiting `waited_s` seconds for it.
  virtual std::string grab_failed(double waited_s) const = 0;

  cv::VideoCapture cap_;
  FrameFormat format_;
  double fps_ = 25;

 private:
  void check_size(int width, int height, const std::string& what) const;

  SourceLimits limits_;
  cv::Mat first_;  // read by read_first_frame(), not yet handed out
  double first_ms_ = 0;
  std::int64_t first_ns_ = 0;  // when it was read
  LiveClock clock_;
};

}  // namespace cvpipe
