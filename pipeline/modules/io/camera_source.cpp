// camera: a V4L2 device (a webcam, a capture card) through OpenCV's V4L2 backend. What is asked
// for is requested from the driver, which grants what it can; the granted values are logged. A
// camera that stops delivering (unplugged) is reopened with backoff (see reconnecting_source.hpp).
//   source:
//     type: camera
//     device: 0          # /dev/video0; or a path: /dev/video2, /dev/v4l/by-id/usb-...-video-index0
//     width: 1280        # optional, with height
//     height: 720
//     fps: 30            # optional
//     fourcc: MJPG       # optional pixel format: MJPG, YUYV, ...
//     reconnect: {delay: 0.5, max_delay: 30, attempts: 0}
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include "pipeline/core/errors.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/modules/io/capture_source.hpp"
#include "pipeline/modules/io/reconnecting_source.hpp"

namespace cvpipe {
namespace {

// Buffers in the driver's queue. Two: the driver fills one while the other is read, and a frame
// waits at most one frame time behind the newest (OpenCV's default is 4).
constexpr int kCameraBuffers = 2;

struct CameraParams {
  int index = 0;       // /dev/video<index> when path is empty
  std::string path;
  std::optional<int> width, height;
  std::optional<double> fps;
  std::string fourcc;  // empty: the driver's choice
  ReconnectPolicy reconnect;

  std::string device() const { return path.empty() ? "/dev/video" + std::to_string(index) : path; }
};

std::string fourcc_text(double value) {
  const auto code = static_cast<std::uint32_t>(value);
  std::string text;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((code >> (8 * i)) & 0xff);
    text += (c >= 32 && c < 127) ? c : '?';
  }
  return text;
}

class CameraSource final : public CaptureSource {
 public:
  CameraSource(const CameraParams& p, const SourceLimits& limits) : CaptureSource(limits), p_(p) {
    const std::string device = p_.device();
    // Checked here so the message says why; OpenCV only says it could not open.
    struct stat st;
    if (::stat(device.c_str(), &st) != 0)
      throw InputError("cannot open camera " + device + ": " + std::strerror(errno) +
                       " (is the camera plugged in? ls /dev/video* lists the devices)");
    if (!S_ISCHR(st.st_mode)) throw InputError("cannot open camera " + device + ": not a video device");
    if (::access(device.c_str(), R_OK | W_OK) != 0)
      throw InputError("cannot open camera " + device + ": " + std::strerror(errno) +
                       " (the user needs to be in the device's group, usually video)");
    const bool opened = p_.path.empty() ? cap_.open(p_.index, cv::CAP_V4L2) : cap_.open(p_.path, cv::CAP_V4L2);
    if (!opened)
      throw InputError("cannot open camera " + device + ": OpenCV's V4L2 backend cannot capture from it (busy, or "
                       "not a capture device)");
    // In the order OpenCV's V4L2 backend needs them: the pixel format first (setting it restarts
    // the stream at the current size), then width and height (the size changes once both are
    // set), then the frame rate, then the queue length.
    if (p_.fourcc.size() == 4)
      cap_.set(cv::CAP_PROP_FOURCC, cv::VideoWriter::fourcc(p_.fourcc[0], p_.fourcc[1], p_.fourcc[2], p_.fourcc[3]));
    if (p_.width && p_.height) {
      cap_.set(cv::CAP_PROP_FRAME_WIDTH, *p_.width);
      cap_.set(cv::CAP_PROP_FRAME_HEIGHT, *p_.height);
    }
    if (p_.fps) cap_.set(cv::CAP_PROP_FPS, *p_.fps);
    cap_.set(cv::CAP_PROP_BUFFERSIZE, kCameraBuffers);

    if (!read_first_frame("camera " + device))
      throw InputError("cannot read camera " + device + ": it opened but gave no frame");
    const double granted_fps = cap_.get(cv::CAP_PROP_FPS);
    fps_ = granted_fps > 0 && granted_fps < 1000 ? granted_fps : 30;  // 30 when the driver tells none
    const std::string granted_fourcc = fourcc_text(cap_.get(cv::CAP_PROP_FOURCC));

    auto log = get_logger("source");
    log->info("camera opened device={} size={}x{} fourcc={} fps={:.2f} buffers={}", device, format_.width,
              format_.height, granted_fourcc, granted_fps, cap_.get(cv::CAP_PROP_BUFFERSIZE));
    if ((p_.width && (*p_.width != format_.width || *p_.height != format_.height)) ||
        (!p_.fourcc.empty() && p_.fourcc != granted_fourcc) || (p_.fps && std::abs(*p_.fps - granted_fps) > 0.01)) {
      log->warn("camera did not grant everything asked for: asked size={} fourcc={} fps={}, got {}x{} {} {:.2f}",
                p_.width ? std::to_string(*p_.width) + "x" + std::to_string(*p_.height) : "any",
                p_.fourcc.empty() ? "any" : p_.fourcc, p_.fps ? std::to_string(*p_.fps) : "any", format_.width,
                format_.height, granted_fourcc, granted_fps);
    }
  }

 private:
  std::string grab_failed(double) const override { return "the camera stopped delivering frames (unplugged?)"; }

  CameraParams p_;
};

// device: an index (0 is /dev/video0) or a path.
void read_device(ConfigReader& r, CameraParams& p) {
  r.document("device", "integer or path", "0", "an index N for /dev/videoN, or a path such as /dev/video0", false);
  if (r.describing() || !r.has("device")) return;
  const YAML::Node n = r.raw("device", "a device index (0 for /dev/video0) or a path such as /dev/video0");
  if (!n.IsDefined()) return;
  const std::string text = n.IsScalar() ? n.Scalar() : "";
  int index = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (n.IsScalar() && ec == std::errc() && end == text.data() + text.size() && index >= 0 && index <= 255) {
    p.index = index;
  } else if (n.IsScalar() && !text.empty() && text.front() == '/') {
    p.path = text;
  } else {
    r.fail("device", "expected a device index (0 for /dev/video0) or a path such as /dev/video0, got " +
                         (n.IsScalar() ? "\"" + text + "\"" : std::string("a ") + (n.IsMap() ? "mapping" : "list")));
  }
}

SourceSpec parse_camera_source(ConfigReader& r) {
  CameraParams p;
  read_device(r, p);
  if (auto w = r.optional_integer("width", 16, 7680)) p.width = static_cast<int>(*w);
  if (auto h = r.optional_integer("height", 16, 4320)) p.height = static_cast<int>(*h);
  r.document_rule("width", "with height");
  if (!r.describing() && (r.has("width") != r.has("height")))
    r.fail(r.has("width") ? "height" : "width", "width and height go together (the V4L2 backend changes the size "
                                                 "only when both are set)");
  p.fps = r.optional_number("fps", 0.1, 1000);
  if (auto fourcc = r.optional_string("fourcc")) {
    p.fourcc = *fourcc;
    if (p.fourcc.size() != 4)
      r.fail("fourcc", "expected four characters, such as MJPG or YUYV, got \"" + p.fourcc + "\"");
  }
  p.reconnect = read_reconnect_policy(r);

  return reconnecting_source_spec("camera", "camera " + p.device(),
                                  [p](const SourceLimits& limits) -> std::unique_ptr<Source> {
                                    return std::make_unique<CameraSource>(p, limits);
                                  },
                                  p.reconnect);
}

}  // namespace

CVPIPE_REGISTER_SOURCE(Camera, "camera", "a V4L2 camera (webcam, capture card); reconnects when lost",
                       "type: camera\ndevice: 0          # /dev/video0, or a path\nwidth: 1280\nheight: 720\n"
                       "fps: 30\nfourcc: MJPG       # optional",
                       parse_camera_source)

}  // namespace cvpipe
