// images: one image file per frame, named by a printf-style pattern with the frame's sequence
// number; the extension picks the format (png, jpg, bmp, ...).
//   sink:
//     type: images
//     path: out/frames/%06d.png     # exactly one %d, optionally with a width: %d, %6d, %06d
#include <opencv2/imgcodecs.hpp>

#include <regex>

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
    bool ok = false;
    try {
      ok = cv::imwrite(path, frame);
    } catch (const cv::Exception& e) {
      return Status::error("cannot write image " + path + ": " + e.what());
    }
    if (!ok) return Status::error("cannot write image " + path);
    ++written_;
    return Status::ok();
  }
  Status close() override { return Status::ok(); }
  std::int64_t frames_written() const override { return written_; }

 private:
  FilePattern pattern_;
  std::int64_t written_ = 0;
};

SinkSpec parse_images_sink(ConfigReader& r, const LoadContext& ctx) {
  const std::string given = r.required_string("path");
  const std::string path = ctx.resolve(given);
  FilePattern pattern;
  static const std::regex kConversion("%(0?)([0-9]*)d");
  std::smatch m;
  const auto conversions = std::distance(std::sregex_iterator(path.begin(), path.end(), kConversion),
                                         std::sregex_iterator());
  if (!given.empty() && (conversions != 1 || !std::regex_search(path, m, kConversion))) {
    r.fail("path", "expected a file pattern with exactly one %d (e.g. out/frames/%06d.png), got \"" + given + "\"");
  } else if (!given.empty()) {
    pattern.prefix = m.prefix();
    pattern.suffix = m.suffix();
    pattern.zero_pad = m[1].length() > 0;
    pattern.width = m[2].length() > 0 ? std::stoi(m[2]) : 0;
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
