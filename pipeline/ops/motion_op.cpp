// motion: finds moving regions by background subtraction (MOG2 or KNN), cleans the foreground
// mask with morphology, and adds the bounding box of each remaining blob to the frame's detections.
// The frame's pixels are left as they are.
//
//   - op: motion
//     method: mog2           # mog2 | knn; default mog2
//     history: 500           # frames the background model remembers, integer in [1, 100000]; default 500
//     threshold: 0           # mog2: squared Mahalanobis distance (OpenCV default 16); knn: squared
//                            # distance (default 400); number in [0, 100000]; 0: the method's default
//     shadows: false         # detect shadows (and leave them out of the regions); default false
//     learning_rate: -1      # -1: automatic, else a number in [0, 1]; default -1
//     kernel: 5              # elliptic kernel of the opening (removes specks) and closing (fills
//                            # holes), odd integer in [1, 51]; 1: none; default 5
//     min_area: 50           # blobs of fewer pixels are left out, integer in [1, 10000000]; default 50
//     warmup: 5              # frames after a (re)start that only train the model, integer in [0, 1000]; default 5
//     label: motion          # class of the regions, 1-15 characters; default motion
//
// Stateful: its stage runs one worker that sees the frames in order. The model lives in that
// worker; when it is restarted (a crash), the model starts over and warms up again.
// A region's score is the share of its box that is foreground (0-1). Regions are sorted by
// position (top to bottom, then left to right).
#include <opencv2/imgproc.hpp>
#include <opencv2/video/background_segm.hpp>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

class MotionOp final : public Op {
 public:
  struct Params {
    bool knn = false;
    int history = 500;
    double threshold = 0;
    bool shadows = false;
    double learning_rate = -1;
    int kernel = 5;
    int min_area = 50;
    int warmup = 5;
    std::string label = "motion";
  };
  static constexpr bool kInPlace = true;
  static constexpr bool kOrdered = true;

  static Params parse(ConfigReader& r) {
    Params p;
    p.knn = r.choice("method", "mog2", {"mog2", "knn"}) == "knn";
    p.history = static_cast<int>(r.integer("history", 500, 1, 100000));
    p.threshold = r.number("threshold", 0, 0, 100000);
    p.shadows = r.boolean("shadows", false);
    p.learning_rate = r.number("learning_rate", -1, -1, 1);
    p.kernel = static_cast<int>(r.odd_integer("kernel", 5, 1, 51));
    p.min_area = static_cast<int>(r.integer("min_area", 50, 1, 10'000'000));
    p.warmup = static_cast<int>(r.integer("warmup", 5, 0, 1000));
    p.label = r.string("label", "motion");
    if (r.describing()) {
      r.document_rule("learning_rate", "-1 (automatic) or in [0, 1]");
      r.document_rule("threshold", "0: the method's default");
      r.document_rule("label", "1-15 characters");
      return p;
    }
    if (p.learning_rate < 0 && p.learning_rate != -1)
      r.fail("learning_rate", "expected -1 (automatic) or a number in [0, 1], got " +
                                 r.raw("learning_rate", "a number").Scalar());
    if (p.label.empty() || p.label.size() >= Detection::kLabelSize)
      r.fail("label", "expected 1 to " + std::to_string(Detection::kLabelSize - 1) + " characters, got \"" + p.label + "\"");
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("motion expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit MotionOp(const Params& p) : p_(p) {}

  Status open() override {
    if (p_.knn)
      subtractor_ = cv::createBackgroundSubtractorKNN(p_.history, p_.threshold > 0 ? p_.threshold : 400, p_.shadows);
    else
      subtractor_ = cv::createBackgroundSubtractorMOG2(p_.history, p_.threshold > 0 ? p_.threshold : 16, p_.shadows);
    if (p_.kernel > 1) kernel_ = cv::getStructuringElement(cv::MORPH_ELLIPSE, {p_.kernel, p_.kernel});
    frames_ = 0;
    return Status::ok();
  }

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    if (out.data != in.data) in.copyTo(out);  // the runner passes the same buffer
    subtractor_->apply(in, mask_, p_.learning_rate);
    if (frames_ < p_.warmup) {
      ++frames_;
      return Status::ok();
    }
    // Shadows are 127 in the mask, foreground 255.
    cv::threshold(mask_, mask_, 200, 255, cv::THRESH_BINARY);
    if (!kernel_.empty()) {
      cv::morphologyEx(mask_, mask_, cv::MORPH_OPEN, kernel_);
      cv::morphologyEx(mask_, mask_, cv::MORPH_CLOSE, kernel_);
    }
    const int blobs = cv::connectedComponentsWithStats(mask_, labels_, stats_, centroids_, 8, CV_32S);
    boxes_.clear();
    for (int i = 1; i < blobs; ++i) {
      const int area = stats_.at<int>(i, cv::CC_STAT_AREA);
      if (area < p_.min_area) continue;
      boxes_.push_back({stats_.at<int>(i, cv::CC_STAT_LEFT), stats_.at<int>(i, cv::CC_STAT_TOP),
                        stats_.at<int>(i, cv::CC_STAT_WIDTH), stats_.at<int>(i, cv::CC_STAT_HEIGHT), area});
    }
    std::sort(boxes_.begin(), boxes_.end(),
              [](const Box& a, const Box& b) { return std::tie(a.y, a.x, a.h, a.w) < std::tie(b.y, b.x, b.h, b.w); });
    for (const Box& b : boxes_)
      meta.detections.add(p_.label, b.x, b.y, b.w, b.h, static_cast<float>(b.area) / static_cast<float>(b.w * b.h));
    return Status::ok();
  }

 private:
  struct Box {
    int x, y, w, h, area;
  };
  Params p_;
  cv::Ptr<cv::BackgroundSubtractor> subtractor_;
  cv::Mat kernel_, mask_, labels_, stats_, centroids_;
  std::vector<Box> boxes_;
  int frames_ = 0;
};

}  // namespace

CVPIPE_REGISTER_OP(MotionOp, "motion", "finds moving regions by background subtraction (stateful; adds regions)",
                   "- op: motion\n  method: mog2\n  history: 200\n  kernel: 5\n  min_area: 100")

}  // namespace cvpipe
