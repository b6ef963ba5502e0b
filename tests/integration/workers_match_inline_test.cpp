// Worker processes change where ops run, never what they produce: a run with workers writes the
// same pixels, in the same order, as an --inline run of the same config (PNG is lossless).
#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kFrames = 24;
const cv::Size kSize(200, 150);

struct Chain {
  const char* name;
  const char* stages;  // the YAML of the stages list
};

// Between them, every op that changes pixels; each chain ends in annotate, which draws the frame
// number, so a frame out of place differs from the inline run.
const Chain kChains[] = {
    {"OneStageOneWorker", R"(
  - name: smooth
    workers: 1
    ops:
      - op: gaussian_blur
        ksize: 7
      - op: annotate
)"},
    {"OneStageTwoWorkers", R"(
  - name: denoise
    workers: 2
    ops:
      - op: median_blur
        ksize: 5
      - op: annotate
        scale: 0.6
)"},
    {"OneStageThreeWorkers", R"(
  - name: gradient
    workers: 3
    ops:
      - op: bilateral
        d: 5
        sigma_color: 50
        sigma_space: 50
      - op: sobel
        dx: 1
        dy: 1
      - op: annotate
)"},
    {"TwoStagesWithTwoAndOneWorkers", R"(
  - name: smooth
    workers: 2
    ops:
      - op: gaussian_blur
        ksize: 9
  - name: binarize
    workers: 1
    ops:
      - op: grayscale
      - op: threshold
        thresh: 110
      - op: annotate
        color: [128, 128, 128]
)"},
    {"ThreeStagesWithOneTwoAndOneWorkers", R"(
  - name: shrink
    workers: 1
    ops:
      - op: resize
        width: 160
        height: 120
  - name: edges
    workers: 2
    ops:
      - op: grayscale
      - op: canny
        low: 60
        high: 150
  - name: label
    workers: 1
    ops:
      - op: annotate
)"},
};

// gtest prints the chain in test names (ctest lists them) by its name rather than its bytes.
void PrintTo(const Chain& c, std::ostream* os) { *os << c.name; }

class WorkersAndInline : public CvpipeTest, public ::testing::WithParamInterface<Chain> {};

TEST_P(WorkersAndInline, WriteIdenticalFramesInTheSameOrder) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), kSize, kFrames));
  const std::string config = write("pipeline.yaml", std::string("source:\n  type: file\n  path: clip.mkv\nstages:") +
                                                        GetParam().stages + "sink:\n  type: images\n  path: unset\n");

  const RunResult inline_run = run_cvpipe({"run", config, "--inline", "--set", "sink.path=" + path("inline/%06d.png")});
  const RunResult worker_run = run_cvpipe({"run", config, "--set", "sink.path=" + path("workers/%06d.png")});

  ASSERT_EQ(inline_run.exit_code, 0) << describe(inline_run);
  ASSERT_EQ(worker_run.exit_code, 0) << describe(worker_run);
  EXPECT_EQ(summary_of(inline_run)["mode"].string(), "inline");
  const Json summary = summary_of(worker_run);
  EXPECT_EQ(summary["mode"].string(), "workers");
  EXPECT_EQ(summary.integer("frames_written"), kFrames);
  EXPECT_EQ(summary.integer("frames_dropped"), 0);

  std::vector<std::string> names;
  for (int i = 0; i < kFrames; ++i) names.push_back(cv::format("%06d.png", i));
  EXPECT_EQ(list_dir(path("inline")), names);
  EXPECT_EQ(list_dir(path("workers")), names);

  const std::vector<cv::Mat> expected = read_images(path("inline"));
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kFrames));
  // Neighbouring frames differ, so frames written out of order cannot compare equal.
  for (int i = 0; i + 1 < kFrames; ++i) ASSERT_FALSE(identical(expected[i], expected[i + 1])) << "frames " << i;
  EXPECT_EQ(compare_frames(expected, read_images(path("workers"))), "");
}

INSTANTIATE_TEST_SUITE_P(Chains, WorkersAndInline, ::testing::ValuesIn(kChains),
                         [](const ::testing::TestParamInfo<Chain>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace cvpipe
