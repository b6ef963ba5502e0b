#pragma once
// Helpers for op tests: parse an op from YAML text as a pipeline config would, make deterministic
// frames, run an op the way the runner does, and compare frames.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/ops/op_registry.hpp"

namespace cvpipe::test {

struct ParsedOp {
  std::optional<OpSpec> spec;       // set only when the YAML parsed without errors
  std::vector<ConfigError> errors;  // sorted by position
  std::string errors_text() const {
    std::string out;
    for (const auto& e : errors) out += e.to_string() + "\n";
    return out;
  }
};

// Reads the first item of a YAML list such as "- op: canny\n  low: 10" as a pipeline does: "op"
// names a registered op whose parser reads the other keys; keys left over are errors.
inline ParsedOp parse_op(const std::string& yaml) {
  ParsedOp result;
  ConfigDiagnostics diag("test.yaml");
  const YAML::Node doc = YAML::Load(yaml);
  if (!doc.IsSequence() || doc.size() == 0) {
    ADD_FAILURE() << "not a YAML list: " << yaml;
    return result;
  }
  ConfigReader r(doc[0], "ops[0]", diag);
  const std::string name = r.required_string("op");
  const OpInfo* info = OpRegistry::instance().find(name);
  if (!info) {
    ADD_FAILURE() << "no op named \"" << name << "\"";
    return result;
  }
  OpSpec spec = info->parse(r);
  r.finish();
  result.errors = diag.sorted();
  if (diag.ok()) result.spec = std::move(spec);
  return result;
}

// Parses the op and returns its output format for `in`, or nullopt (with a test failure) when
// the YAML has errors.
inline std::optional<FormatResult> format_of(const std::string& yaml, const FrameFormat& in) {
  const ParsedOp parsed = parse_op(yaml);
  if (!parsed.spec) {
    ADD_FAILURE() << "unexpected errors:\n" << parsed.errors_text();
    return std::nullopt;
  }
  return parsed.spec->output_format(in);
}

inline FrameFormat format_of(const cv::Mat& m) { return {m.cols, m.rows, m.type()}; }

// Noise with flat shapes on it (edges, plateaus and texture), the same for the same arguments.
inline cv::Mat test_frame(int width, int height, int type, std::uint64_t seed = 1) {
  cv::Mat m(height, width, type);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  cv::rectangle(m, cv::Rect(width / 4, height / 4, width / 2, height / 2), cv::Scalar(200, 180, 160), cv::FILLED);
  cv::circle(m, {width / 2, height / 2}, std::min(width, height) / 5, cv::Scalar(30, 90, 150), cv::FILLED);
  return m;
}

// Runs the op once as the runner does: into a fresh output of its output format, or, for an
// in-place op, on a copy of `in` that is also the output. Returns the output (empty on failure,
// which is also reported).
inline cv::Mat run_op(const OpSpec& spec, const cv::Mat& in, FrameMeta meta = {}) {
  const FormatResult f = spec.output_format(format_of(in));
  if (!f.error.empty()) {
    ADD_FAILURE() << spec.name << " rejects " << format_of(in).describe() << ": " << f.error;
    return {};
  }
  cv::Mat out = spec.in_place ? in.clone() : cv::Mat(f.format.height, f.format.width, f.format.type);
  const std::unique_ptr<Op> op = spec.make();
  const Status opened = op->open();
  if (!opened) {
    ADD_FAILURE() << spec.name << " open failed: " << opened.message();
    return {};
  }
  const uchar* data = out.data;
  const Status s = op->process(spec.in_place ? out : in, out, meta);
  op->close();
  if (!s) {
    ADD_FAILURE() << spec.name << " process failed: " << s.message();
    return {};
  }
  if (out.data != data) {
    ADD_FAILURE() << spec.name << " reallocated its output";
    return {};
  }
  return out;
}

// Parses `yaml` and runs the op on `in`; an empty Mat (and a test failure) on errors.
inline cv::Mat run_op(const std::string& yaml, const cv::Mat& in, FrameMeta meta = {}) {
  const ParsedOp parsed = parse_op(yaml);
  if (!parsed.spec) {
    ADD_FAILURE() << "unexpected errors:\n" << parsed.errors_text();
    return {};
  }
  return run_op(*parsed.spec, in, meta);
}

// Same size, type and bytes.
inline ::testing::AssertionResult same_pixels(const cv::Mat& actual, const cv::Mat& expected) {
  if (actual.empty() || expected.empty())
    return ::testing::AssertionFailure() << "empty frame (actual " << actual.empty() << ", expected "
                                         << expected.empty() << ")";
  if (actual.size() != expected.size() || actual.type() != expected.type())
    return ::testing::AssertionFailure() << "format " << format_of(actual).describe() << " != "
                                         << format_of(expected).describe();
  const double diff = cv::norm(actual, expected, cv::NORM_INF);
  if (diff != 0) return ::testing::AssertionFailure() << "max difference " << diff;
  return ::testing::AssertionSuccess();
}

}  // namespace cvpipe::test
