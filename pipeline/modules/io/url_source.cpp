// url: a network stream (RTSP, HTTP MJPEG, or anything else FFmpeg reads from a URL) through
// OpenCV's FFmpeg backend. Open and read timeouts bound every call, so a dead stream never hangs
// the capture thread; a lost stream is reopened with backoff (see reconnecting_source.hpp).
//   source:
//     type: url
//     url: rtsp://camera.local:554/stream   # or http://host:8080/video.mjpg
//     open_timeout: 10     # seconds to connect and read the stream's header
//     read_timeout: 5      # seconds without a frame before the stream counts as lost
//     fps: 25              # optional: overrides the rate the stream reports
//     reconnect: {delay: 0.5, max_delay: 30, attempts: 0}
//
// For RTSP, OpenCV's FFmpeg backend prefers TCP (rtsp_flags=prefer_tcp) unless the environment's
// OPENCV_FFMPEG_CAPTURE_OPTIONS says otherwise (e.g. rtsp_transport;udp).
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <vector>

#include "pipeline/core/errors.hpp"
#include "pipeline/core/secrets.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/modules/io/capture_source.hpp"
#include "pipeline/modules/io/reconnecting_source.hpp"

namespace cvpipe {
namespace {

using Clock = std::chrono::steady_clock;

struct UrlParams {
  std::string url;
  std::string shown;  // the URL with any password masked: for messages and logs
  double open_timeout_s = 10;
  double read_timeout_s = 5;
  std::optional<double> fps;
  ReconnectPolicy reconnect;
};

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", s);
  return text;
}

int to_ms(double seconds) { return std::max(1, static_cast<int>(std::lround(seconds * 1000.0))); }

class UrlSource final : public CaptureSource {
 public:
  UrlSource(const UrlParams& p, const SourceLimits& limits) : CaptureSource(limits), p_(p) {
    const std::vector<int> params{cv::CAP_PROP_OPEN_TIMEOUT_MSEC, to_ms(p_.open_timeout_s),
                                  cv::CAP_PROP_READ_TIMEOUT_MSEC, to_ms(p_.read_timeout_s)};
    const auto started = Clock::now();
    if (!cap_.open(p_.url, cv::CAP_FFMPEG, params)) {
      const bool timed_out = elapsed_s(started) >= 0.95 * p_.open_timeout_s;
      throw InputError("cannot open stream " + p_.shown + ": " +
                       (timed_out ? "no answer within open_timeout=" + seconds_text(p_.open_timeout_s)
                                  : "FFmpeg could not open it (refused, not found, or not a video stream)"));
    }
    // The first frame gives the true frame size and proves frames arrive; the first read() hands it out.
    const auto reading = Clock::now();
    if (!read_first_frame("stream " + p_.shown)) {
      throw InputError("cannot read stream " + p_.shown + ": " +
                       (elapsed_s(reading) >= 0.9 * p_.read_timeout_s
                            ? "no frame within read_timeout=" + seconds_text(p_.read_timeout_s)
                            : "it ended before its first frame"));
    }
    const double reported = cap_.get(cv::CAP_PROP_FPS);
    if (p_.fps) {
      fps_ = *p_.fps;
    } else if (reported > 0 && reported < 1000) {
      fps_ = reported;
    } else {
      get_logger("source")->info("stream reports no usable frame rate (fps={}); assuming 25 (set source.fps to "
                                 "override) url={}", reported, p_.shown);
    }
  }

 private:
  static double elapsed_s(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

  std::string grab_failed(double waited_s) const override {
    return waited_s >= 0.9 * p_.read_timeout_s ? "no frame within read_timeout=" + seconds_text(p_.read_timeout_s)
                                               : "the stream ended";
  }

  UrlParams p_;
};

SourceSpec parse_url_source(ConfigReader& r) {
  UrlParams p;
  p.url = r.required_string("url");
  if (!p.url.empty() && !r.describing() && p.url.find("://") == std::string::npos)
    r.fail("url", "expected a URL such as rtsp://host/path or http://host:8080/stream, got \"" + p.url +
                      "\" (a video file is type: file)");
  p.shown = mask_url(p.url);
  p.open_timeout_s = r.positive_number("open_timeout", p.open_timeout_s, 3600);
  p.read_timeout_s = r.positive_number("read_timeout", p.read_timeout_s, 3600);
  p.fps = r.optional_number("fps", 0.1, 1000);
  p.reconnect = read_reconnect_policy(r);

  return reconnecting_source_spec("url", "url " + p.shown,
                                  [p](const SourceLimits& limits) -> std::unique_ptr<Source> {
                                    return std::make_unique<UrlSource>(p, limits);
                                  },
                                  p.reconnect);
}

}  // namespace

CVPIPE_REGISTER_SOURCE(Url, "url", "a network stream (RTSP, HTTP MJPEG, ...) read with FFmpeg; reconnects when lost",
                       "type: url\nurl: rtsp://camera.local:554/stream\nopen_timeout: 10   # seconds\n"
                       "read_timeout: 5    # seconds without a frame: the stream is lost\n"
                       "reconnect:\n  delay: 0.5\n  max_delay: 30\n  attempts: 0     # 0: forever",
                       parse_url_source)

}  // namespace cvpipe
