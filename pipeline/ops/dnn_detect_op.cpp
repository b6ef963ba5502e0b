// dnn_detect: runs an ONNX object detector with OpenCV's dnn module and adds what it finds to the
// frame's detections, boxes in the coordinates of the frame the op sees. The frame's pixels are
// left as they are.
//
//   - op: dnn_detect
//     model: models/yolov5s.onnx   # an ONNX file, relative to the config file; required
//     decoder: yolo                # how to read the outputs: yolo, ssd or blazeface; required
//     input: [640, 640]            # the net's input [width, height]; required
//     layout: nchw                 # nchw (1x3xHxW) or nhwc (1xHxWx3); default nchw (blazeface: nhwc)
//     scale: 0.00392156862745098   # each value is (pixel - mean) * scale; default 1/255 (blazeface: 1/127.5)
//     mean: [0, 0, 0]              # per channel, in the net's channel order; default 0 (blazeface: 127.5)
//     swap_rb: true                # feed RGB (the frame is BGR); default true
//     resize: stretch              # stretch to the input, or letterbox (aspect kept, padded with
//                                  # 114 gray, centred); default stretch
//     labels: coco.names           # class names: a file (one a line) or a list; default: numbers
//     classes: [person]            # classes to keep (names, or numbers without labels); default all
//     score_threshold: 0.5         # in [0, 1]; default 0.5
//     nms_threshold: 0.45          # boxes of one class overlapping more (IoU) are one; default 0.45
//     label: ""                    # one class name for every detection instead; default none
//
// Decoders:
// - yolo: one output, YOLOv5's [1, N, 5+C] (cx, cy, w, h in input pixels, objectness, C class
//   scores; score = objectness x class score) or YOLOv8's [1, 4+C, N] (no objectness), told
//   apart by which side is longer (or by the labels' count); the best class of each box.
// - ssd: Caffe/TensorFlow SSD's DetectionOutput, [1, 1, N, 7] of (image, class, score, x1, y1,
//   x2, y2), corners in [0, 1] of the input.
// - blazeface: MediaPipe's face detector (e.g. face_detection_front_128x128): scores [1, A, 1]
//   and regressors [1, A, 16] for two grids of anchors (2 a cell, then 6), as MediaPipe decodes
//   them (box centre = anchor centre + offset, in input pixels; score = sigmoid of the logit);
//   its class is "face".
// Then per class non-maximum suppression (cv::dnn::NMSBoxes). A detection's score is the model's.
//
// The model is read and run once on a blank input when the config loads (validate and run), so a
// missing file, a file that is not ONNX, an input size the model does not take, and outputs the
// decoder cannot read are config errors at their keys; each worker reads it again when the op
// opens, never per frame. Gray frames are fed as BGR.
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/core/small_file.hpp"
#include "pipeline/ops/detection_boxes.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe {
namespace {

constexpr std::size_t kMaxModelBytes = std::size_t{1} << 30;
constexpr std::size_t kMaxLabelsBytes = std::size_t{1} << 20;

enum class Decoder { kYolo, kSsd, kBlazeFace };

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) + "..." : line;
}

std::string shape_text(const cv::Mat& m) {
  std::string text = "[";
  for (int i = 0; i < m.dims; ++i) text += (i ? ", " : "") + std::to_string(m.size[i]);
  return text + "]";
}

// OpenCV's own log lines ("[ERROR:0@0.17] ... getMemoryShapes() throws exception") while a model
// is read and tried: the op says what went wrong in one line of its own.
class QuietOpenCvLog {
 public:
  QuietOpenCvLog() : saved_(cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT)) {}
  ~QuietOpenCvLog() { cv::utils::logging::setLogLevel(saved_); }
  QuietOpenCvLog(const QuietOpenCvLog&) = delete;
  QuietOpenCvLog& operator=(const QuietOpenCvLog&) = delete;

 private:
  cv::utils::logging::LogLevel saved_;
};

// The ONNX file read within bounds (a regular file, at most 1 GiB) into a net on OpenCV's own CPU
// backend; "" or why not.
std::string read_net(const std::string& path, cv::dnn::Net& net) {
  std::string bytes;
  if (std::string why = read_small_file(path, kMaxModelBytes, bytes); !why.empty()) return "cannot read " + path + ": " + why;
  const QuietOpenCvLog quiet;
  try {
    net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
  } catch (const cv::Exception& e) {
    return path + " is not an ONNX model OpenCV can read: " + first_line(e.err);
  }
  if (net.empty()) return path + " holds no network";
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return "";
}

struct DnnParams {
  std::string model;
  Decoder decoder = Decoder::kYolo;
  int width = 0, height = 0;
  bool nhwc = false;
  double scale = 1.0 / 255;
  std::array<double, 3> mean{0, 0, 0};
  bool swap_rb = true;
  bool letterbox = false;
  std::vector<std::string> labels;
  std::vector<int> keep;  // class ids to keep; empty: all
  double score_threshold = 0.5;
  double nms_threshold = 0.45;
  std::string label;
  bool yolo_v8 = false;  // [1, 4+C, N] rather than [1, N, 5+C]
  // blazeface: the outputs' places (scores and regressors of the 2-anchor layers, then of the
  // 6-anchor ones) and the two strides their anchors are laid on.
  std::array<int, 4> blaze_outputs{0, 1, 2, 3};
  std::array<int, 2> blaze_strides{8, 16};
};

// The frame prepared for the net, and the way back from the input's coordinates to the frame's.
class Preprocessor {
 public:
  explicit Preprocessor(const DnnParams& p) : p_(p) {}

  const cv::Mat& blob(const cv::Mat& frame) {
    const cv::Mat* src = &frame;
    if (frame.channels() == 1) {
      cv::cvtColor(frame, bgr_, cv::COLOR_GRAY2BGR);
      src = &bgr_;
    }
    if (p_.letterbox) {
      const double s = std::min(static_cast<double>(p_.width) / src->cols, static_cast<double>(p_.height) / src->rows);
      const int w = std::clamp(static_cast<int>(std::lround(src->cols * s)), 1, p_.width);
      const int h = std::clamp(static_cast<int>(std::lround(src->rows * s)), 1, p_.height);
      cv::resize(*src, resized_, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
      input_.create(p_.height, p_.width, CV_8UC3);
      input_.setTo(cv::Scalar::all(114));
      pad_x_ = (p_.width - w) / 2;
      pad_y_ = (p_.height - h) / 2;
      resized_.copyTo(input_(cv::Rect(pad_x_, pad_y_, w, h)));
      sx_ = static_cast<double>(w) / src->cols;
      sy_ = static_cast<double>(h) / src->rows;
    } else {
      cv::resize(*src, input_, cv::Size(p_.width, p_.height), 0, 0, cv::INTER_LINEAR);
      pad_x_ = pad_y_ = 0;
      sx_ = static_cast<double>(p_.width) / src->cols;
      sy_ = static_cast<double>(p_.height) / src->rows;
    }
    const cv::Scalar mean(p_.mean[0], p_.mean[1], p_.mean[2]);
    if (!p_.nhwc) {
      cv::dnn::blobFromImage(input_, blob_, p_.scale, cv::Size(), mean, p_.swap_rb, false, CV_32F);
    } else {
      // As blobFromImage does, channels swapped first, then (value - mean) * scale; laid out HWC.
      if (p_.swap_rb) cv::cvtColor(input_, rgb_, cv::COLOR_BGR2RGB);
      (p_.swap_rb ? rgb_ : input_).convertTo(float_, CV_32FC3);
      cv::subtract(float_, mean, float_);
      float_ *= p_.scale;
      const int shape[] = {1, p_.height, p_.width, 3};
      blob_ = float_.reshape(1, 4, shape);
    }
    return blob_;
  }

  // A box in the input's pixels as the frame's.
  cv::Rect2d to_frame(double x0, double y0, double x1, double y1) const {
    return cv::Rect2d(cv::Point2d((x0 - pad_x_) / sx_, (y0 - pad_y_) / sy_), cv::Point2d((x1 - pad_x_) / sx_, (y1 - pad_y_) / sy_));
  }

 private:
  const DnnParams& p_;
  cv::Mat bgr_, resized_, input_, rgb_, float_, blob_;
  int pad_x_ = 0, pad_y_ = 0;
  double sx_ = 1, sy_ = 1;
};

// The outputs' boxes (frame coordinates), scores and class ids above the score threshold.
struct Candidates {
  std::vector<cv::Rect2d> boxes;
  std::vector<float> scores;
  std::vector<int> classes;
  void clear() {
    boxes.clear();
    scores.clear();
    classes.clear();
  }
  // A model's numbers are not trusted: a box with a coordinate that is not finite is left out.
  void add(const cv::Rect2d& box, float score, int cls) {
    if (!std::isfinite(box.x) || !std::isfinite(box.y) || !std::isfinite(box.width) || !std::isfinite(box.height)) return;
    boxes.push_back(box);
    scores.push_back(score);
    classes.push_back(cls);
  }
};

bool kept(const DnnParams& p, int c) { return p.keep.empty() || std::find(p.keep.begin(), p.keep.end(), c) != p.keep.end(); }

void decode_yolo(const DnnParams& p, const cv::Mat& out, const Preprocessor& pre, Candidates& c) {
  const int a = out.size[1], b = out.size[2];
  const int n = p.yolo_v8 ? b : a, k = p.yolo_v8 ? a : b;
  const int first_class = p.yolo_v8 ? 4 : 5;
  const float* data = out.ptr<float>();
  const auto at = [&](int i, int j) { return p.yolo_v8 ? data[static_cast<std::size_t>(j) * n + i] : data[static_cast<std::size_t>(i) * k + j]; };
  const auto threshold = static_cast<float>(p.score_threshold);
  for (int i = 0; i < n; ++i) {
    const float objectness = p.yolo_v8 ? 1.f : at(i, 4);
    if (objectness < threshold) continue;
    int best = -1;
    float best_score = -1;
    for (int j = first_class; j < k; ++j)
      if (const float s = at(i, j); s > best_score) best_score = s, best = j - first_class;
    const float score = objectness * best_score;
    if (score < threshold || !kept(p, best)) continue;
    const float cx = at(i, 0), cy = at(i, 1), w = at(i, 2), h = at(i, 3);
    c.add(pre.to_frame(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), score, best);
  }
}

void decode_ssd(const DnnParams& p, const cv::Mat& out, const Preprocessor& pre, Candidates& c) {
  const int n = out.size[2];
  const float* rows = out.ptr<float>();
  for (int i = 0; i < n; ++i) {
    const float* r = rows + static_cast<std::size_t>(i) * 7;
    const float score = r[2];
    // A class id beyond int's range (or NaN) would make the cast undefined.
    if (!(std::fabs(r[1]) < 1e9f)) continue;
    const int cls = static_cast<int>(r[1]);
    if (!(score >= p.score_threshold) || !kept(p, cls)) continue;
    c.add(pre.to_frame(r[3] * p.width, r[4] * p.height, r[5] * p.width, r[6] * p.height), score, cls);
  }
}

// MediaPipe's face detector (BlazeFace): SSD anchors on two grids (2 anchors a cell at the first
// stride, 6 at the second), each with 16 regressors (box centre offset and size in input pixels,
// then 6 key points, unused) and a score logit.
void decode_blazeface(const DnnParams& p, const std::vector<cv::Mat>& outs, const Preprocessor& pre, Candidates& c) {
  for (int g = 0; g < 2; ++g) {
    const cv::Mat& scores = outs[static_cast<std::size_t>(p.blaze_outputs[static_cast<std::size_t>(2 * g)])];
    const cv::Mat& boxes = outs[static_cast<std::size_t>(p.blaze_outputs[static_cast<std::size_t>(2 * g + 1)])];
    const int per_cell = g == 0 ? 2 : 6;
    const int stride = p.blaze_strides[static_cast<std::size_t>(g)];
    const int cols = p.width / stride, rows = p.height / stride;
    const int values = boxes.size[2];
    const float* score = scores.ptr<float>();
    const float* regressor = boxes.ptr<float>();
    int i = 0;
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < cols; ++x)
        for (int a = 0; a < per_cell; ++a, ++i) {
          const double logit = std::clamp(static_cast<double>(score[i]), -100.0, 100.0);
          const double s = 1.0 / (1.0 + std::exp(-logit));
          if (s < p.score_threshold || !kept(p, 0)) continue;
          const float* r = regressor + static_cast<std::size_t>(i) * static_cast<std::size_t>(values);
          const double cx = (x + 0.5) * stride + r[0], cy = (y + 0.5) * stride + r[1];
          c.add(pre.to_frame(cx - r[2] / 2.0, cy - r[3] / 2.0, cx + r[2] / 2.0, cy + r[3] / 2.0), static_cast<float>(s), 0);
        }
  }
}

// Why the decoder cannot read these outputs, or "" (and, for yolo, which layout they are in).
std::string check_outputs(DnnParams& p, const std::vector<cv::Mat>& outs, int& classes) {
  std::string shapes;
  for (const cv::Mat& m : outs) shapes += (shapes.empty() ? "" : ", ") + shape_text(m);
  if (p.decoder == Decoder::kBlazeFace) {
    // Scores [1, A, 1] and regressors [1, A, >=4] for each grid, in any order; the grid with 2
    // anchors a cell is the finer one.
    const std::string expected = "blazeface reads 4 outputs, [1, A, 1] scores and [1, A, 16] regressors for two anchor "
                                 "grids (2 and 6 anchors a cell); the model gives " + shapes;
    if (outs.size() != 4) return expected;
    std::vector<int> score_outs, box_outs;
    for (int i = 0; i < 4; ++i) {
      const cv::Mat& m = outs[static_cast<std::size_t>(i)];
      if (m.dims != 3 || m.size[0] != 1) return expected;
      (m.size[2] == 1 ? score_outs : box_outs).push_back(i);
    }
    if (score_outs.size() != 2 || box_outs.size() != 2) return expected;
    const auto anchors = [&](int i) { return outs[static_cast<std::size_t>(i)].size[1]; };
    for (auto* group : {&score_outs, &box_outs})
      if (anchors((*group)[0]) < anchors((*group)[1])) std::swap((*group)[0], (*group)[1]);
    if (anchors(score_outs[0]) != anchors(box_outs[0]) || anchors(score_outs[1]) != anchors(box_outs[1]) ||
        outs[static_cast<std::size_t>(box_outs[0])].size[2] < 4)
      return expected;
    // Each grid's stride from its anchor count: cells = (input / stride)^2.
    for (int g = 0; g < 2; ++g) {
      const int per_cell = g == 0 ? 2 : 6;
      const int count = anchors(score_outs[static_cast<std::size_t>(g)]);
      const int side = static_cast<int>(std::lround(std::sqrt(count / static_cast<double>(per_cell))));
      if (side < 1 || side * side * per_cell != count || p.width != p.height || p.width % side != 0)
        return expected + " (anchors that do not tile a square " + std::to_string(p.width) + "x" +
               std::to_string(p.height) + " input)";
      p.blaze_strides[static_cast<std::size_t>(g)] = p.width / side;
      p.blaze_outputs[static_cast<std::size_t>(2 * g)] = score_outs[static_cast<std::size_t>(g)];
      p.blaze_outputs[static_cast<std::size_t>(2 * g + 1)] = box_outs[static_cast<std::size_t>(g)];
    }
    classes = 1;
    return "";
  }
  if (p.decoder == Decoder::kSsd) {
    if (outs.size() != 1 || outs[0].dims != 4 || outs[0].size[0] != 1 || outs[0].size[1] != 1 || outs[0].size[3] != 7)
      return "ssd reads one output of [1, 1, N, 7]; the model gives " + shapes;
    classes = -1;  // told by the labels, if any
    return "";
  }
  if (outs.size() != 1 || outs[0].dims != 3 || outs[0].size[0] != 1)
    return "yolo reads one output of [1, N, 5+C] (YOLOv5) or [1, 4+C, N] (YOLOv8); the model gives " + shapes;
  const int a = outs[0].size[1], b = outs[0].size[2];
  const int labels = static_cast<int>(p.labels.size());
  const bool v5_fits = b >= 6, v8_fits = a >= 5;
  if (!v5_fits && !v8_fits)
    return "yolo reads one output of [1, N, 5+C] (YOLOv5) or [1, 4+C, N] (YOLOv8); the model gives " + shapes;
  if (labels > 0 && v5_fits && b - 5 == labels) p.yolo_v8 = false;
  else if (labels > 0 && v8_fits && a - 4 == labels) p.yolo_v8 = true;
  else p.yolo_v8 = !v5_fits || (v8_fits && a < b);
  classes = p.yolo_v8 ? a - 4 : b - 5;
  return "";
}

std::vector<std::string> read_labels(ConfigReader& r) {
  if (!r.has("labels") || r.describing()) {
    if (r.describing()) r.document("labels", "a file (one name a line) or a list of names", "numbers", "", false);
    return {};
  }
  const YAML::Node n = r.raw("labels", "a file of class names (one a line) or a list of names");
  if (!n.IsDefined()) return {};
  std::vector<std::string> labels;
  if (n.IsSequence()) {
    for (const YAML::Node& item : n) {
      if (!item.IsScalar() || item.Scalar().empty()) {
        r.fail("labels", "expected a list of class names");
        return {};
      }
      labels.push_back(item.Scalar());
    }
    return labels;
  }
  if (!n.IsScalar()) {
    r.fail("labels", "expected a file of class names (one a line) or a list of names");
    return {};
  }
  const std::string path = r.resolve_path(n.Scalar());
  std::string text;
  if (std::string why = read_small_file(path, kMaxLabelsBytes, text); !why.empty()) {
    r.fail("labels", "cannot read " + path + ": " + why);
    return {};
  }
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) labels.push_back(line);
  }
  if (labels.empty()) r.fail("labels", path + " holds no class names");
  return labels;
}

class DnnDetectOp final : public Op {
 public:
  using Params = DnnParams;
  static constexpr bool kInPlace = true;

  static Params parse(ConfigReader& r) {
    Params p;
    p.model = r.required_path("model");
    if (r.describing()) {
      r.document("decoder", "one of yolo|ssd|blazeface", "", "", true);
      r.document("input", "list of 2 integers [width, height]", "", "each in [8, 4096]", true);
    } else {
      const std::string decoder = r.choice("decoder", "yolo", {"yolo", "ssd", "blazeface"});
      p.decoder = decoder == "ssd" ? Decoder::kSsd : decoder == "blazeface" ? Decoder::kBlazeFace : Decoder::kYolo;
      if (!r.has("decoder")) r.fail("decoder", "missing required key (yolo, ssd or blazeface)");
      if (!r.has("input")) r.fail("input", "missing required key ([width, height] of the net's input)");
      std::tie(p.width, p.height) = r.integer_pair("input", {640, 640}, 8, 4096);
    }
    // BlazeFace's own preparation by default: NHWC, values in [-1, 1].
    const bool blaze = p.decoder == Decoder::kBlazeFace;
    p.nhwc = r.choice("layout", blaze ? "nhwc" : "nchw", {"nchw", "nhwc"}) == "nhwc";
    p.scale = r.number("scale", blaze ? 1.0 / 127.5 : 1.0 / 255, -1e6, 1e6);
    p.mean = parse_mean(r, blaze ? 127.5 : 0);
    p.swap_rb = r.boolean("swap_rb", true);
    p.letterbox = r.choice("resize", "stretch", {"stretch", "letterbox"}) == "letterbox";
    p.labels = read_labels(r);
    const std::vector<std::string> classes = r.string_list("classes", {});
    p.score_threshold = r.number("score_threshold", 0.5, 0, 1);
    p.nms_threshold = r.number("nms_threshold", 0.45, 0, 1);
    p.label = r.string("label", "");
    if (r.describing()) return p;
    if (!p.label.empty() && p.label.size() >= Detection::kLabelSize)
      r.fail("label", "expected 1 to " + std::to_string(Detection::kLabelSize - 1) + " characters, got \"" + p.label + "\"");
    if (p.model.empty()) return p;

    // The model, as each worker will run it: read, then run once on a blank input.
    cv::dnn::Net net;
    if (std::string why = read_net(p.model, net); !why.empty()) {
      r.fail("model", why);
      return p;
    }
    std::vector<cv::Mat> outs;
    try {
      const QuietOpenCvLog quiet;
      Preprocessor pre(p);
      net.setInput(pre.blob(cv::Mat(p.height, p.width, CV_8UC3, cv::Scalar::all(0))));
      net.forward(outs, net.getUnconnectedOutLayersNames());
    } catch (const cv::Exception& e) {
      const std::string shape = p.nhwc ? "1x" + std::to_string(p.height) + "x" + std::to_string(p.width) + "x3"
                                       : "1x3x" + std::to_string(p.height) + "x" + std::to_string(p.width);
      r.fail("input",
             "the model does not run on a " + shape + " input (" + (p.nhwc ? "nhwc" : "nchw") +
                 "; check input and layout): " + first_line(e.err));
      return p;
    }
    int model_classes = -1;
    if (std::string why = check_outputs(p, outs, model_classes); !why.empty()) {
      r.fail("decoder", why);
      return p;
    }
    if (model_classes > 0 && !p.labels.empty() && static_cast<int>(p.labels.size()) != model_classes)
      r.fail("labels", "the model scores " + std::to_string(model_classes) + " classes, the labels name " +
                           std::to_string(p.labels.size()));
    for (const std::string& name : classes) {
      const auto named = std::find(p.labels.begin(), p.labels.end(), name);
      int id = -1;
      if (named != p.labels.end()) {
        id = static_cast<int>(named - p.labels.begin());
      } else {
        const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
        if (ec != std::errc() || end != name.data() + name.size() || id < 0 || (model_classes > 0 && id >= model_classes)) {
          r.fail("classes", "\"" + name + "\" is not a class of the model (" +
                                (p.labels.empty() ? "give labels, or numbers below " + std::to_string(model_classes)
                                                  : "a name from labels") + ")");
          continue;
        }
      }
      p.keep.push_back(id);
    }
    return p;
  }

  static FormatResult output_format(const FrameFormat& in, const Params&) {
    if (!in.is_8bit_gray_or_bgr())
      return FormatResult::fail("dnn_detect expects 8-bit 1- or 3-channel input, got " + in.describe());
    return FormatResult::ok(in);
  }

  explicit DnnDetectOp(const Params& p) : p_(p), pre_(p_) {}

  Status open() override {
    if (std::string why = read_net(p_.model, net_); !why.empty()) return Status::error(why);
    names_ = net_.getUnconnectedOutLayersNames();
    return Status::ok();
  }

  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta& meta) override {
    if (out.data != in.data) in.copyTo(out);  // the runner passes the same buffer
    net_.setInput(pre_.blob(in));
    net_.forward(outs_, names_);
    found_.clear();
    switch (p_.decoder) {
      case Decoder::kSsd: decode_ssd(p_, outs_[0], pre_, found_); break;
      case Decoder::kBlazeFace: decode_blazeface(p_, outs_, pre_, found_); break;
      case Decoder::kYolo: decode_yolo(p_, outs_[0], pre_, found_); break;
    }

    boxes_.clear();
    scores_.clear();
    order_.clear();
    labels_.clear();
    const cv::Rect frame(0, 0, in.cols, in.rows);
    classes_ = found_.classes;
    std::sort(classes_.begin(), classes_.end());
    classes_.erase(std::unique(classes_.begin(), classes_.end()), classes_.end());
    for (int cls : classes_) {
      one_class_.clear();
      one_scores_.clear();
      for (std::size_t i = 0; i < found_.boxes.size(); ++i)
        if (found_.classes[i] == cls) {
          one_class_.push_back(found_.boxes[i]);
          one_scores_.push_back(found_.scores[i]);
        }
      cv::dnn::NMSBoxes(one_class_, one_scores_, static_cast<float>(p_.score_threshold),
                        static_cast<float>(p_.nms_threshold), keep_);
      for (int k : keep_) {
        const cv::Rect2d& b = one_class_[static_cast<std::size_t>(k)];
        const cv::Rect box = cv::Rect(cv::Point(static_cast<int>(std::lround(b.x)), static_cast<int>(std::lround(b.y))),
                                      cv::Point(static_cast<int>(std::lround(b.x + b.width)),
                                                static_cast<int>(std::lround(b.y + b.height)))) & frame;
        if (box.empty()) continue;
        order_.push_back(boxes_.size());
        boxes_.push_back(box);
        scores_.push_back(one_scores_[static_cast<std::size_t>(k)]);
        labels_.push_back(cls);
      }
    }
    // In reading order, each with its class's name.
    std::sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
      const cv::Rect &ra = boxes_[a], &rb = boxes_[b];
      return std::tie(ra.y, ra.x, ra.height, ra.width, labels_[a]) < std::tie(rb.y, rb.x, rb.height, rb.width, labels_[b]);
    });
    for (std::size_t i : order_) {
      const cv::Rect& b = boxes_[i];
      meta.detections.add(class_name(labels_[i]), b.x, b.y, b.width, b.height, scores_[i]);
    }
    return Status::ok();
  }

 private:
  static std::array<double, 3> parse_mean(ConfigReader& r, double fallback) {
    std::array<double, 3> mean{fallback, fallback, fallback};
    if (r.describing()) {
      r.document("mean", "list of 3 numbers", "[0, 0, 0] (blazeface: 127.5)", "subtracted per channel, in the net's order", false);
      return mean;
    }
    const YAML::Node n = r.raw("mean", "a list of 3 numbers");
    if (!n.IsDefined()) return mean;
    bool good = n.IsSequence() && n.size() == 3;
    for (std::size_t i = 0; good && i < 3; ++i) {
      good = n[i].IsScalar();
      if (!good) break;
      const std::string& s = n[i].Scalar();
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), mean[i]);
      good = ec == std::errc() && end == s.data() + s.size() && std::isfinite(mean[i]);
    }
    if (!good) {
      r.fail("mean", "expected a list of 3 numbers, one a channel");
      return {fallback, fallback, fallback};
    }
    return mean;
  }

  std::string class_name(int cls) const {
    if (!p_.label.empty()) return p_.label;
    if (p_.decoder == Decoder::kBlazeFace && p_.labels.empty()) return "face";
    if (cls >= 0 && static_cast<std::size_t>(cls) < p_.labels.size()) return p_.labels[static_cast<std::size_t>(cls)];
    return std::to_string(cls);
  }

  Params p_;
  Preprocessor pre_;
  cv::dnn::Net net_;
  std::vector<std::string> names_;
  std::vector<cv::Mat> outs_;
  Candidates found_;
  std::vector<cv::Rect2d> one_class_;
  std::vector<float> one_scores_;
  std::vector<int> classes_, keep_, labels_;  // classes_: those found in the frame, once each
  std::vector<cv::Rect> boxes_;
  std::vector<float> scores_;
  std::vector<std::size_t> order_;
};

}  // namespace

CVPIPE_REGISTER_OP(DnnDetectOp, "dnn_detect", "runs an ONNX object detector with OpenCV's dnn (adds detections)",
                   "- op: dnn_detect\n  model: models/yolov5s.onnx\n  decoder: yolo\n  input: [640, 640]\n"
                   "  resize: letterbox\n  labels: models/coco.names\n  classes: [person]")

}  // namespace cvpipe
