// images: one image file per frame, named by a printf-style pattern with the frame's sequence
// number; the extension picks the format (png, jpg, bmp, ...). Each image is encoded in memory,
// written to a temporary name and renamed, so a file with the final name is always complete (a
// full disk or a vanished folder stops the run without leaving a truncated image).
//   sink:
//     type: images
//     path: out/frames/%06d.png     # exactly one %d, optionally with a width: %d, %6d, %06d
#include <fcntl.h>
#include <unistd.h>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <vector>

#include "pipeline/core/errors.hpp"
#include "pipeline/sinks/sink.hpp"

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

SinkSpec parse_images_sink(ConfigReader& r, const LoadContext& ctx) {
  const std::string given = r.required_string("path");
  const std::string path = ctx.resolve(given);
  FilePattern pattern;
  static const std::regex kConversion("%(0?)([0-9]*)d");
  std::smatch m;
  // std::regex matches recursively, a stack frame per character: a width of 50,000 digits
  // overflowed the stack. No longer path can be created (PATH_MAX).
  const bool too_long = path.size() > 4096;
  const auto conversions = too_long ? 0 : std::distance(std::sregex_iterator(path.begin(), path.end(), kConversion),
                                                        std::sregex_iterator());
  if (too_long) {
    r.fail("path", "expected at most 4096 characters, got " + std::to_string(path.size()));
  } else if (!given.empty() && (conversions != 1 || !std::regex_search(path, m, kConversion))) {
    r.fail("path", "expected a file pattern with exactly one %d (e.g. out/frames/%06d.png), got \"" + given + "\"");
  } else if (!given.empty()) {
    pattern.prefix = m.prefix();
    pattern.suffix = m.suffix();
    pattern.zero_pad = m[1].length() > 0;
    pattern.width = static_cast<int>(std::min(std::strtol(m[2].str().c_str(), nullptr, 10), 21L));  // saturates
    if (pattern.width > 20) r.fail("path", "expected a field width of at most 20 in \"" + given + "\"");
    if (!cv::haveImageWriter(pattern.format(0)))
      r.fail("path", "no image format for the extension of \"" + given + "\" (use .png, .jpg, .bmp, .tiff, ...)");
  }
  SinkSpec spec;
  spec.type = "images";
  spec.description = "images " + path;
  spec.check_format = require_8bit_1_or_3_channels;
  spec.open = [pattern](const FrameFormat&, double) -> std::unique_ptr<Sink> {
    return std::make_unique<ImagesSink>(pattern);
  };
  return spec;
}

}  // namespace

CVPIPE_REGISTER_SINK(Images, "images", "one image file per frame",
                     "type: images\npath: out/frames/%06d.png", parse_images_sink)

}  // namespace cvpipe
