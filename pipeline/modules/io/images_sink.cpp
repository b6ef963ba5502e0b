// images: one image file per frame, named by a printf-style pattern with the frame's sequence
// number; the extension picks the format (png, jpg, bmp, ...). Each image is encoded in memory,
// written to a temporary name and renamed, so a file with the final name is always complete (a
// full disk or a vanished folder stops the run without leaving a truncated image).
//   sink:
//     type: images
//     path: out/frames/%06d.png     # exactly one %d, optionally with a width: %d, %6d, %06d; %% is a %
#include <fcntl.h>
#include <unistd.h>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pipeline/core/errors.hpp"
#include "pipeline/runtime/sink.hpp"

namespace cvpipe {
namespace {

struct FilePattern {
  std::string prefix, suffix;
  int width = 0;
  bool zero_pad = false;

  std::string format(std::uint64_t n) const {
    std::string digits = std::to_string(n);
    if (static_cast<int>(digits.size()) < width)
      digits.insert(0, static_cast<std::size_t>(width) - digits.size(), zero_pad ? '0' : ' ');
    return prefix + digits + suffix;
  }
};

class ImagesSink final : public Sink {
 public:
  explicit ImagesSink(FilePattern pattern) : pattern_(std::move(pattern)) {
    create_parent_dirs(pattern_.format(0));
  }

  Status write(const cv::Mat& frame, const FrameMeta& meta) override {
    const std::string path = pattern_.format(meta.seq);
    const std::size_t dot = path.rfind('.');
    bool ok = false;
    try {
      ok = cv::imencode(dot == std::string::npos ? ".png" : path.substr(dot), frame, encoded_);
    } catch (const cv::Exception& e) {
      return Status::error("cannot encode image " + path + ": " + e.what());
    }
    if (!ok) return Status::error("cannot encode image " + path);
    const std::string temporary = path + ".part";
    if (Status s = write_file(temporary, encoded_); !s) {
      ::unlink(temporary.c_str());
      return Status::error("cannot write image " + path + ": " + s.message());
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
      const int error = errno;
      ::unlink(temporary.c_str());
      return Status::error("cannot write image " + path + ": " + std::strerror(error));
    }
    ++written_;
    return Status::ok();
  }
  Status close() override { return Status::ok(); }
  std::int64_t frames_written() const override { return written_; }

 private:
  static Status write_file(const std::string& path, const std::vector<uchar>& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::error(std::strerror(errno));
    for (std::size_t done = 0; done < bytes.size();) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int error = n < 0 ? errno : ENOSPC;
        ::close(fd);
        return Status::error(std::strerror(error));
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) return Status::error(std::strerror(errno));  // NFS and friends report late
    return Status::ok();
  }

  FilePattern pattern_;
  std::vector<uchar> encoded_;
  std::int64_t written_ = 0;
};

// Reads a printf-style pattern: exactly one %d (%d, %6d, %06d: zero-padded to a width of at most
// 20), and %% for a literal %. Returns an error message, or "" with `out` filled.
std::string parse_pattern(const std::string& path, FilePattern& out) {
  if (path.size() > 4096) return "expected at most 4096 characters, got " + std::to_string(path.size());
  std::string text;  // what is before the %d, then after it
  int conversions = 0;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') {
      text += path[i];
      continue;
    }
    if (i + 1 < path.size() && path[i + 1] == '%') {
      text += '%';
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    const bool zero = j < path.size() && path[j] == '0';
    if (zero) ++j;
    std::size_t digits = 0;
    while (j + digits < path.size() && path[j + digits] >= '0' && path[j + digits] <= '9') ++digits;
    if (j + digits >= path.size() || path[j + digits] != 'd')
      return "expected %d, %6d or %06d (and %% for a literal %) where the pattern has \"" +
             path.substr(i, std::min<std::size_t>(j + digits + 1, path.size()) - i) + "\"";
    if (++conversions > 1) break;
    out.zero_pad = zero;
    out.width = digits > 2 ? 21 : (digits == 0 ? 0 : std::stoi(path.substr(j, digits)));
    if (out.width > 20) return "expected a field width of at most 20";
    out.prefix = text;
    text.clear();
    i = j + digits;
  }
  if (conversions != 1) return "expected a file pattern with exactly one %d (e.g. out/frames/%06d.png)";
  out.suffix = text;
  return "";
}

SinkSpec parse_images_sink(ConfigReader& r) {
  std::string given;
  const std::string path = r.required_path("path", &given);
  FilePattern pattern;
  if (!given.empty()) {
    if (const std::string error = parse_pattern(path, pattern); !error.empty())
      r.fail("path", error + (path.size() > 4096 ? "" : ", got \"" + given + "\""));
    else if (!cv::haveImageWriter(pattern.format(0)))
      r.fail("path", "no image format for the extension of \"" + given + "\" (use .png, .jpg, .bmp, .tiff, ...)");
  }
  SinkSpec spec;
  spec.type = "images";
  spec.description = "images " + path;
  if (!pattern.suffix.empty() || !pattern.prefix.empty()) spec.writes = pattern.format(0);
  // Each format takes its own kinds of image (OpenEXR only floats, .ppm only colour, .pgm only
  // gray): a small image of the chain's type is encoded once here, so that a format that cannot
  // take it is found by validate rather than at the first frame.
  const std::string extension = pattern.suffix.substr(std::min(pattern.suffix.rfind('.'), pattern.suffix.size()));
  spec.check_format = [extension](const FrameFormat& f) {
    if (std::string why = require_8bit_1_or_3_channels(f); !why.empty()) return why;
    if (extension.empty()) return std::string();
    std::vector<uchar> bytes;
    std::string opencv_says;
    try {
      // Small: what a format takes depends on the kind of image, not its size.
      if (cv::imencode(extension, cv::Mat(8, 8, f.type, cv::Scalar::all(0)), bytes)) return std::string();
    } catch (const cv::Exception& e) {
      opencv_says = " (OpenCV: " + e.err + ")";
    }
    return "cannot write " + f.describe() + " frames as " + extension + " images" + opencv_says +
           "; .png, .tiff and .bmp take gray and colour";
  };
  spec.open = [pattern](const FrameFormat&, double) -> std::unique_ptr<Sink> {
    return std::make_unique<ImagesSink>(pattern);
  };
  return spec;
}

}  // namespace

CVPIPE_REGISTER_SINK(Images, "images", "one image file per frame",
                     "type: images\npath: out/frames/%06d.png", parse_images_sink)

}  // namespace cvpipe
