// --set KEY.PATH=VALUE changes one value of the config for one run; a bad one is a config error
// that points at the command line.
#include <filesystem>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kExitConfig = 78;
constexpr int kFrames = 20;

class SetOverride : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    if (HasFatalFailure()) return;
    config_ = write("pipeline.yaml", R"(source:
  type: synthetic
  width: 160
  height: 120
  frames: 20
stages:
  - name: blur
    workers: 1
    ops:
      - op: gaussian_blur
        ksize: 5
  - name: edges
    ops:
      - op: grayscale
      - op: canny
sink:
  type: images
  path: out/%03d.png
)");
  }

  void expect_config_error_naming(const RunResult& r, const std::string& set) {
    EXPECT_EQ(r.exit_code, kExitConfig) << describe(r);
    EXPECT_EQ(r.out, "") << describe(r);
    EXPECT_NE(r.err.find("--set " + set), std::string::npos) << "the error names the --set\n" << describe(r);
    EXPECT_FALSE(exists(path("out"))) << "the output folder was created";
  }

  std::string config_;
};

TEST_F(SetOverride, ChangesTheWorkersOfTheStageNamedInThePath) {
  const RunResult r = run_cvpipe({"run", config_, "--set", "stages.blur.workers=3"});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json summary = summary_of(r);
  EXPECT_EQ(stage_in(summary, "blur").integer("workers"), 3);
  EXPECT_EQ(stage_in(summary, "edges").integer("workers"), 1);
  EXPECT_EQ(stage_in(summary, "blur").integer("frames_processed"), kFrames);
  EXPECT_EQ(summary.integer("frames_written"), kFrames);
  EXPECT_EQ(list_dir(path("out")).size(), static_cast<std::size_t>(kFrames));
}

TEST_F(SetOverride, AppliesSeveralInTheirOrder) {
  const RunResult r = run_cvpipe({"run", config_, "--set", "stages.1.workers=3", "--set=source.frames=7", "--set",
                                  "stages.edges.workers=2"});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json summary = summary_of(r);
  EXPECT_EQ(stage_in(summary, "edges").integer("workers"), 2);
  EXPECT_EQ(summary.integer("frames_written"), 7);
}

TEST_F(SetOverride, TakesThePathsErrorsPrintWithIndicesInBrackets) {
  const RunResult r = run_cvpipe({"run", config_, "--set", "stages[1].workers=3", "--set", "stages[0].ops[0].ksize=7"});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(stage_in(summary_of(r), "edges").integer("workers"), 3);
}

TEST_F(SetOverride, AMalformedIndexIsAConfigError) {
  const RunResult r = run_cvpipe({"validate", config_, "--set", "stages[x].workers=3"});

  expect_config_error_naming(r, "stages[x].workers=3");
  EXPECT_NE(r.err.find("\"[x]\" is not a number"), std::string::npos) << describe(r);
}

TEST_F(SetOverride, AnIndexOutOfRangeSaysHowManyStagesThereAre) {
  const RunResult r = run_cvpipe({"run", config_, "--set", "stages.5.workers=3"});

  expect_config_error_naming(r, "stages.5.workers=3");
  EXPECT_NE(r.err.find("index 5 is out of range: stages has 2 items, 0 to 1 (names: blur, edges)"), std::string::npos)
      << describe(r);
}

TEST_F(SetOverride, NamingAnUnknownStageIsAConfigError) {
  const RunResult r = run_cvpipe({"run", config_, "--set", "stages.nope.workers=3"});

  expect_config_error_naming(r, "stages.nope.workers=3");
  EXPECT_NE(r.err.find("blur, edges"), std::string::npos) << "lists the stage names\n" << describe(r);
}

TEST_F(SetOverride, AnOutOfRangeValueIsAConfigError) {
  const RunResult r = run_cvpipe({"run", config_, "--set", "stages.blur.workers=0"});

  expect_config_error_naming(r, "stages.blur.workers=0");
  EXPECT_NE(r.err.find("stages[0].workers: expected an integer"), std::string::npos) << describe(r);
}

TEST_F(SetOverride, AValueOfTheWrongTypeIsAConfigError) {
  const RunResult r = run_cvpipe({"run", config_, "--set", "stages.edges.ops.1.low=lots"});

  expect_config_error_naming(r, "stages.edges.ops.1.low=lots");
}

TEST_F(SetOverride, AnOpThatCannotTakeItsInputNamesTheSetThatMadeIt) {
  const RunResult r = run_cvpipe({"validate", config_, "--set", "stages.edges.ops.0.op=canny"});

  expect_config_error_naming(r, "stages.edges.ops.0.op=canny");
  EXPECT_NE(r.err.find("--set stages.edges.ops.0.op=canny: stages[1].ops[0]: canny expects 8-bit 1-channel input "
                       "(add a grayscale op before it), got 160x120 8UC3\n"),
            std::string::npos)
      << describe(r);
  EXPECT_EQ(r.err.find("pipeline.yaml:"), std::string::npos) << "blamed on the file\n" << describe(r);
}

TEST_F(SetOverride, WithoutAnEqualsSignIsAConfigError) {
  const RunResult r = run_cvpipe({"validate", config_, "--set", "stages.blur.workers"});

  expect_config_error_naming(r, "stages.blur.workers");
}

// A path typed on the command line is relative to where it was typed; one in the file, to the
// file. The config is in cfg/, the command runs in the test's folder.
TEST_F(SetOverride, APathGivenOnTheCommandLineIsRelativeToTheCurrentDirectory) {
  ASSERT_TRUE(make_clip(path("here.mkv"), {96, 64}, 6));
  std::filesystem::create_directories(path("cfg"));
  const std::string config = write("cfg/p.yaml", "source: {type: file, path: there.mkv}\n"
                                                 "stages: [{name: s, workers: 2, ops: [{op: gaussian_blur, ksize: 3}]}]\n"
                                                 "sink: {type: images, path: out/%03d.png}\n");
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  const RunResult r = run_cvpipe({"run", "cfg/p.yaml", "--set", "source.path=here.mkv", "--set",
                                  "sink.path=mine/%03d.png", "--set", "results.path=found.jsonl"});
  std::filesystem::current_path(before);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(list_dir(path("mine")).size(), 6u) << "the sink's --set path, from the current directory";
  EXPECT_TRUE(exists(path("found.jsonl")));
  EXPECT_FALSE(exists(path("cfg/mine")));
  // Without the --set, the file's path is the file's: cfg/there.mkv, which does not exist.
  const RunResult missing = run_cvpipe({"validate", config});
  EXPECT_NE(missing.err.find(path("cfg/there.mkv")), std::string::npos) << describe(missing);
}

}  // namespace
}  // namespace cvpipe
