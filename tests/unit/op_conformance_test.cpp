// Checks every registered op (hidden test ops included) against the op contract, so a new op is
// covered without new test code: its example and its defaults parse, describe mode documents its
// keys, and for each frame format it accepts it writes exactly its output format into the buffer
// it is given, deterministically. One case per op and check (Ops/OpConformance.<check>/<op>), so
// an op that fails hides no other.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <opencv2/core.hpp>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/op_test_util.hpp"

namespace cvpipe {
namespace {

using test::all_names;
using test::format_of;
using test::parse_op;
using test::same_pixels;
using test::test_frame;

// Ops whose parameters have no sensible default, so `- op: name` alone must be an error.
const std::set<std::string> kOpsWithRequiredParams = {"resize", "crash", "dnn_detect"};

const std::vector<FrameFormat> kFormats = {
    {640, 480, CV_8UC3}, {640, 480, CV_8UC1}, {33, 17, CV_8UC3}, {33, 17, CV_8UC1}};

// The keys of the example's item other than "op".
std::vector<std::string> example_keys(const OpInfo& info) {
  std::vector<std::string> keys;
  const YAML::Node doc = YAML::Load(info.example);
  for (const auto& kv : doc[0])
    if (kv.first.Scalar() != "op") keys.push_back(kv.first.Scalar());
  return keys;
}

TEST(OpConformance, RegistryIsNotEmpty) { EXPECT_FALSE(OpRegistry::instance().all(true).empty()); }

TEST(OpConformance, OpsWithRequiredParamsAreRegistered) {
  for (const std::string& name : kOpsWithRequiredParams) EXPECT_TRUE(OpRegistry::instance().find(name)) << name;
}

// The cases below are made from the registry when gtest registers them (in main), so they cover
// every op, however late in static initialisation it registered.
TEST(OpConformance, EveryRegisteredOpHasItsOwnCases) {
  EXPECT_EQ(test::instantiated_cases("Ops/OpConformance", "ExampleParsesWithoutErrors"),
            test::case_names(OpRegistry::instance()));
}

// One registered op, by name.
class OpConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    info_ = OpRegistry::instance().find(GetParam());
    ASSERT_NE(info_, nullptr) << "no op named " << GetParam();
  }
  const OpInfo& info() const { return *info_; }

 private:
  const OpInfo* info_ = nullptr;
};

// Ops that parse with no parameters: their defaults are run too.
class OpDefaultsConformance : public OpConformance {};

std::vector<std::string> ops_with_defaults() {
  std::vector<std::string> names = all_names(OpRegistry::instance());
  std::erase_if(names, [](const std::string& n) { return kOpsWithRequiredParams.count(n) > 0; });
  return names;
}

TEST_P(OpConformance, ExampleIsOneListItemNamingItsOp) {
  YAML::Node doc;
  ASSERT_NO_THROW(doc = YAML::Load(info().example)) << info().example;
  ASSERT_TRUE(doc.IsSequence()) << info().example;
  ASSERT_EQ(doc.size(), 1u) << info().example;
  ASSERT_TRUE(doc[0].IsMap()) << info().example;
  ASSERT_TRUE(doc[0]["op"].IsScalar()) << info().example;
  EXPECT_EQ(doc[0]["op"].Scalar(), info().name);
}

TEST_P(OpConformance, ExampleParsesWithoutErrors) {
  const auto parsed = parse_op(info().example);
  EXPECT_TRUE(parsed.spec) << parsed.errors_text();
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors_text();
}

TEST_P(OpConformance, SpecAgreesWithRegistration) {
  EXPECT_FALSE(info().summary.empty());
  EXPECT_EQ(info().summary.find('\n'), std::string::npos) << "summary is one line";
  const auto parsed = parse_op(info().example);
  ASSERT_TRUE(parsed.spec) << parsed.errors_text();
  EXPECT_EQ(parsed.spec->name, info().name);
  EXPECT_EQ(parsed.spec->in_place, info().in_place);
}

TEST_P(OpConformance, BareOpParsesWithDefaultsUnlessItHasRequiredParams) {
  const auto parsed = parse_op("- op: " + info().name);
  if (kOpsWithRequiredParams.count(info().name)) {
    ASSERT_FALSE(parsed.errors.empty()) << "bare op was accepted";
    for (const auto& e : parsed.errors) {
      EXPECT_FALSE(e.message.empty());
      EXPECT_EQ(e.line, 1) << e.to_string();
    }
  } else {
    EXPECT_TRUE(parsed.spec) << parsed.errors_text();
  }
}

// As `cvpipe ops` describes an op (describe_params): each key once, with a type.
TEST_P(OpConformance, DescribeModeDocumentsEveryKeyOfTheExample) {
  const std::set<std::string> documented = test::documented_keys(info().parse);
  for (const std::string& key : example_keys(info()))
    EXPECT_TRUE(documented.count(key)) << "example key not documented: " << key;
}

TEST_P(OpConformance, EveryOpAcceptsSomeFrameFormat) {
  const auto parsed = parse_op(info().example);
  ASSERT_TRUE(parsed.spec) << parsed.errors_text();
  EXPECT_TRUE(std::any_of(kFormats.begin(), kFormats.end(), [&](const FrameFormat& f) {
    return parsed.spec->output_format(f).error.empty();
  }));
}

TEST_P(OpConformance, RejectsFormatsOutsideTheFrameContractNamingThem) {
  const auto parsed = parse_op(info().example);
  ASSERT_TRUE(parsed.spec) << parsed.errors_text();
  for (const FrameFormat in : {FrameFormat{64, 48, CV_8UC4}, FrameFormat{64, 48, CV_16UC1},
                               FrameFormat{64, 48, CV_32FC3}}) {
    const FormatResult f = parsed.spec->output_format(in);
    EXPECT_NE(f.error.find(in.describe()), std::string::npos)
        << "input " << in.describe() << ", reason \"" << f.error << "\"";
  }
}

// Runs `spec` on kFormats the way the runner does, twice, and checks the contract.
void check_processing(const OpSpec& spec) {
  for (const FrameFormat& in_format : kFormats) {
    SCOPED_TRACE(in_format.describe());
    const FormatResult f = spec.output_format(in_format);
    if (!f.error.empty()) continue;  // reasons are checked below
    const FrameFormat out_format = f.format;
    EXPECT_EQ(out_format.depth(), CV_8U) << out_format.describe();
    EXPECT_TRUE(out_format.channels() == 1 || out_format.channels() == 3) << out_format.describe();
    ASSERT_GT(out_format.width, 0);
    ASSERT_GT(out_format.height, 0);
    if (spec.in_place) {
      ASSERT_EQ(out_format, in_format) << "an in-place op cannot change the format";
    }

    const cv::Mat input = test_frame(in_format.width, in_format.height, in_format.type, 7);
    const std::unique_ptr<Op> op = spec.make();
    ASSERT_TRUE(op);
    const Status opened = op->open();
    ASSERT_TRUE(opened) << opened.message();

    std::vector<cv::Mat> results;
    for (int run = 0; run < 2; ++run) {
      // The second run gets a different capture time and, out of place, a different stale slot:
      // neither may show in the result.
      FrameMeta meta{42, 1'234'567, run == 0 ? 1'000 : 987'654'321};
      cv::Mat in = input.clone();
      cv::Mat out = spec.in_place ? in : cv::Mat(out_format.height, out_format.width, out_format.type,
                                                 cv::Scalar::all(run == 0 ? 0 : 255));
      const uchar* data = out.data;
      const Status s = op->process(in, out, meta);
      ASSERT_TRUE(s) << s.message();
      EXPECT_EQ(out.data, data) << "reallocated the output";
      EXPECT_EQ(format_of(out), out_format);
      EXPECT_EQ(meta.seq, 42u);
      EXPECT_EQ(meta.pts_us, 1'234'567);
      if (!spec.in_place) {
        EXPECT_TRUE(same_pixels(in, input)) << "changed its input";
      }
      results.push_back(out);
    }
    EXPECT_TRUE(same_pixels(results[1], results[0])) << "not deterministic";
    op->close();
  }
  // A rejection is a config error a person reads: it says what the op was given.
  for (const FrameFormat& in_format : kFormats) {
    const FormatResult f = spec.output_format(in_format);
    if (!f.error.empty()) {
      EXPECT_NE(f.error.find(in_format.describe()), std::string::npos) << "reason: " << f.error;
    }
  }
}

TEST_P(OpConformance, ExampleProcessesEveryAcceptedFormatIntoItsSlotDeterministically) {
  const auto parsed = parse_op(info().example);
  ASSERT_TRUE(parsed.spec) << parsed.errors_text();
  check_processing(*parsed.spec);
}

TEST_P(OpDefaultsConformance, DefaultsProcessEveryAcceptedFormatIntoItsSlotDeterministically) {
  const auto parsed = parse_op("- op: " + info().name);
  ASSERT_TRUE(parsed.spec) << parsed.errors_text();
  check_processing(*parsed.spec);
}

INSTANTIATE_TEST_SUITE_P(Ops, OpConformance, ::testing::ValuesIn(all_names(OpRegistry::instance())),
                         test::case_name);
INSTANTIATE_TEST_SUITE_P(Ops, OpDefaultsConformance, ::testing::ValuesIn(ops_with_defaults()), test::case_name);

}  // namespace
}  // namespace cvpipe
