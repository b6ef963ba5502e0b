// `cvpipe validate`: a good config is "ok" and nothing is created; a bad one exits 78 with every
// error as "file:line:col: key.path: message", sorted by line.
#include <regex>
#include <sstream>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kExitConfig = 78;

struct ErrorLine {
  std::string file;
  int line = 0, column = 0;
  std::string text;  // "key.path: message"
};

// The "file:line:col: ..." lines of stderr.
std::vector<ErrorLine> positioned_errors(const std::string& err) {
  static const std::regex kLine(R"(^(.+):([0-9]+):([0-9]+): (.+)$)");
  std::vector<ErrorLine> lines;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kLine)) lines.push_back({m[1], std::stoi(m[2]), std::stoi(m[3]), m[4]});
  }
  return lines;
}

class Validate : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(make_clip(path("clip.mkv"), {160, 120}, 5));
  }

  // Validates `yaml` written as pipeline.yaml; expects exit 78 and the error count line.
  RunResult validate_bad(const std::string& yaml) {
    config_ = write("pipeline.yaml", yaml);
    RunResult r = run_cvpipe({"validate", config_});
    EXPECT_EQ(r.exit_code, kExitConfig) << describe(r);
    EXPECT_EQ(r.out, "") << "nothing on stdout for a bad config";
    EXPECT_NE(r.err.find(" config error"), std::string::npos) << describe(r);
    return r;
  }

  // The stderr line that starts with "<config>:<line>:<col>: ", or "".
  std::string error_at(const RunResult& r, int line, int column) const {
    for (const ErrorLine& e : positioned_errors(r.err))
      if (e.file == config_ && e.line == line && e.column == column) return e.text;
    return "";
  }

  std::string config_;
};

TEST_F(Validate, AcceptsAGoodConfigAndCreatesNothing) {
  const std::string config = write("pipeline.yaml", R"(source:
  type: file
  path: clip.mkv
stages:
  - name: edges
    workers: 2
    ops:
      - op: grayscale
      - op: canny
sink:
  type: video
  path: out/result.mp4
)");

  const RunResult r = run_cvpipe({"validate", config});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find(config + ": ok"), std::string::npos) << describe(r);
  EXPECT_FALSE(exists(path("out"))) << "validate created the output folder";
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"clip.mkv", "pipeline.yaml"}));
}

TEST_F(Validate, ReportsTheFrameBytesTheRunsStartUpLogDoes) {
  // 200x100 BGR is 60000 bytes; the segment's buffers are a page multiple.
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, width: 200, height: 100, frames: 3}
buffers: {slots: 6}
stages:
  - name: pass
    ops: [{op: identity}]
sink: {type: "null"}
)");

  const RunResult validated = run_cvpipe({"validate", config});
  const RunResult ran = run_cvpipe({"run", config});

  ASSERT_EQ(validated.exit_code, 0) << describe(validated);
  ASSERT_EQ(ran.exit_code, 0) << describe(ran);
  EXPECT_NE(validated.out.find("; 6 slots x 1 buffer x 61440 B frames\n"), std::string::npos) << describe(validated);
  static const std::regex kFrames(R"(x ([0-9]+) B frames)");
  std::smatch logged;
  ASSERT_TRUE(std::regex_search(ran.err, logged, kFrames)) << describe(ran);
  EXPECT_EQ(logged[1], "61440") << describe(ran);
}

TEST_F(Validate, ReportsAnUnknownKeyAtItsPositionWithASuggestion) {
  const RunResult r = validate_bad(R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    workrs: 2
    ops:
      - op: gaussian_blur
sink:
  type: video
  path: out/result.mp4
)");
  EXPECT_EQ(error_at(r, 6, 5), "stages[0].workrs: unknown key (did you mean \"workers\"?)") << describe(r);
}

TEST_F(Validate, ReportsAValueOfTheWrongType) {
  const RunResult r = validate_bad(R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    workers: many
    ops:
      - op: gaussian_blur
sink:
  type: video
  path: out/result.mp4
)");
  const std::string e = error_at(r, 6, 14);
  EXPECT_EQ(e.rfind("stages[0].workers: expected an integer", 0), 0u) << describe(r);
  EXPECT_NE(e.find("got \"many\""), std::string::npos) << describe(r);
}

TEST_F(Validate, ReportsAnEvenKernelSizeAsNotOdd) {
  const RunResult r = validate_bad(R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    ops:
      - op: gaussian_blur
        ksize: 4
sink:
  type: video
  path: out/result.mp4
)");
  const std::string e = error_at(r, 8, 16);
  EXPECT_EQ(e.rfind("stages[0].ops[0].ksize: ", 0), 0u) << describe(r);
  EXPECT_NE(e.find("odd"), std::string::npos) << describe(r);
  EXPECT_NE(e.find("got 4"), std::string::npos) << describe(r);
}

TEST_F(Validate, ReportsAKeyGivenWithNoValueInsteadOfUsingItsDefault) {
  const RunResult r = validate_bad(R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    workers: ~
    ops:
      - op: gaussian_blur
        ksize:
        sigma: null
      - {op: threshold, type: }
      - op: threshold
        type:
buffers: {slots:}
sink:
  type: video
  path: out/result.mp4
)");
  const std::vector<ErrorLine> errors = positioned_errors(r.err);
  ASSERT_EQ(errors.size(), 6u) << describe(r);
  EXPECT_EQ(error_at(r, 6, 14), "stages[0].workers: expected an integer in [1, 64], got null") << describe(r);
  EXPECT_EQ(error_at(r, 9, 9), "stages[0].ops[0].ksize: expected an odd integer in [1, 255], got null") << describe(r);
  EXPECT_EQ(error_at(r, 10, 16), "stages[0].ops[0].sigma: expected a number >= 0, got null") << describe(r);
  const std::string threshold_types = "expected one of binary, binary_inv, trunc, tozero, tozero_inv, got null";
  EXPECT_EQ(error_at(r, 11, 31), "stages[0].ops[1].type: " + threshold_types) << describe(r);
  EXPECT_EQ(error_at(r, 13, 9), "stages[0].ops[2].type: " + threshold_types) << describe(r);
  EXPECT_EQ(error_at(r, 14, 17), "buffers.slots: expected an integer in [2, 4096], got null") << describe(r);
}

TEST_F(Validate, AcceptsTheNullSinkWrittenAsTheWordNull) {
  const std::string config = write("pipeline.yaml", R"(source: {type: file, path: clip.mkv}
stages: [{name: a, ops: [{op: identity}]}]
sink: {type: null}
)");
  const RunResult r = run_cvpipe({"validate", config});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const RunResult tilde = run_cvpipe({"validate", config, "--set", "sink.type=~"});
  EXPECT_EQ(tilde.exit_code, kExitConfig) << describe(tilde);
  EXPECT_NE(tilde.err.find("sink.type: expected a non-empty string, got null"), std::string::npos) << describe(tilde);
}

TEST_F(Validate, ReportsADuplicateKey) {
  const RunResult r = validate_bad(R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    ops:
      - op: gaussian_blur
        ksize: 5
        ksize: 7
sink:
  type: video
  path: out/result.mp4
)");
  EXPECT_EQ(error_at(r, 9, 9), "stages[0].ops[0].ksize: duplicate key (first given at line 8, column 9)")
      << describe(r);
}

TEST_F(Validate, ReportsADuplicateKeyOnTheSameLineWithBothColumns) {
  const RunResult r = validate_bad(R"(source: {type: file, path: clip.mkv}
stages:
  - name: smooth
    ops: [{op: median_blur, ksize: 3, ksize: 5}]
sink: {type: video, path: out/result.mp4}
)");
  EXPECT_EQ(error_at(r, 4, 39), "stages[0].ops[0].ksize: duplicate key (first given at line 4, column 29)")
      << describe(r);
}

TEST_F(Validate, ReportsADuplicateStageName) {
  const RunResult r = validate_bad(R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    ops:
      - op: gaussian_blur
  - name: smooth
    ops:
      - op: median_blur
sink:
  type: video
  path: out/result.mp4
)");
  const std::vector<ErrorLine> errors = positioned_errors(r.err);
  ASSERT_EQ(errors.size(), 1u) << describe(r);
  EXPECT_EQ(errors[0].line, 8);
  EXPECT_EQ(errors[0].text, "stages[1].name: duplicate stage name \"smooth\" (the first is stages[0], at line 5, "
                            "column 11)");
}

TEST_F(Validate, ReportsAnUnknownOpAndListsEveryKnownOp) {
  const RunResult r = validate_bad(R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    ops:
      - op: sharpen
sink:
  type: video
  path: out/result.mp4
)");
  const std::string e = error_at(r, 7, 13);
  EXPECT_EQ(e.rfind("stages[0].ops[0].op: unknown op \"sharpen\"", 0), 0u) << describe(r);
  for (const char* op : {"identity", "grayscale", "resize", "gaussian_blur", "median_blur", "bilateral", "canny",
                         "sobel", "threshold", "annotate"})
    EXPECT_NE(e.find(op), std::string::npos) << op << " is not listed: " << e;
}

TEST_F(Validate, ReportsAnOpThatCannotTakeTheFramesBeforeIt) {
  const RunResult r = validate_bad(R"(source:
  type: file
  path: clip.mkv
stages:
  - name: edges
    ops:
      - op: canny
sink:
  type: video
  path: out/result.mp4
)");
  const std::vector<ErrorLine> errors = positioned_errors(r.err);
  ASSERT_EQ(errors.size(), 1u) << describe(r);
  EXPECT_EQ(errors[0].line, 7);
  EXPECT_EQ(errors[0].text.rfind("stages[0].ops[0]: ", 0), 0u) << errors[0].text;
  EXPECT_NE(errors[0].text.find("160x120 8UC3"), std::string::npos) << "names the format it got: " << errors[0].text;
  EXPECT_NE(errors[0].text.find("grayscale"), std::string::npos) << "suggests the fix: " << errors[0].text;
}

TEST_F(Validate, ReportsAMissingInputFileAsAConfigErrorAtSourcePath) {
  const RunResult r = validate_bad(R"(source:
  type: file
  path: no-such-clip.mkv
stages:
  - name: smooth
    ops:
      - op: gaussian_blur
sink:
  type: video
  path: out/result.mp4
)");
  const std::string e = error_at(r, 3, 9);
  EXPECT_EQ(e.rfind("source.path: ", 0), 0u) << describe(r);
  EXPECT_NE(e.find(path("no-such-clip.mkv")), std::string::npos) << "names the resolved path: " << e;
}

TEST_F(Validate, ReportsASecondYamlDocumentInsteadOfIgnoringIt) {
  const RunResult r = validate_bad(R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    ops:
      - op: gaussian_blur
sink:
  type: video
  path: out/result.mp4
---
stages:
  - name: edges
    ops:
      - op: canny
)");
  EXPECT_EQ(error_at(r, 11, 1), "a config file holds one YAML document; a second one starts here") << describe(r);
}

TEST_F(Validate, ReportsEveryErrorAtOnceSortedByLine) {
  const RunResult r = validate_bad(R"(source:
  type: synthetic
  frames: 0
  pace: fast
stages:
  - name: a
    workers: 0
    ops:
      - op: gaussian_blur
        ksize: 4
      - op: bilateral
        d: 500
  - name: a
    ops:
      - op: median_blurr
sink:
  type: vidoe
log:
  levl: debug
)");
  const std::vector<ErrorLine> errors = positioned_errors(r.err);
  const std::vector<int> expected_lines = {3, 4, 7, 10, 12, 13, 15, 17, 19};
  std::vector<int> lines;
  for (const ErrorLine& e : errors) lines.push_back(e.line);
  EXPECT_EQ(lines, expected_lines) << describe(r);
  EXPECT_NE(r.err.find("cvpipe: " + std::to_string(errors.size()) + " config errors"), std::string::npos)
      << describe(r);
  EXPECT_NE(error_at(r, 15, 13).find("did you mean \"median_blur\"?"), std::string::npos) << describe(r);
  EXPECT_NE(error_at(r, 17, 9).find("did you mean \"video\"?"), std::string::npos) << describe(r);
  EXPECT_EQ(error_at(r, 19, 3), "log.levl: unknown key (did you mean \"level\"?)") << describe(r);
}

TEST_F(Validate, RunRejectsTheSameConfigBeforeStartingAnything) {
  config_ = write("pipeline.yaml", R"(source:
  type: file
  path: clip.mkv
stages:
  - name: smooth
    workers: 2
    ops:
      - op: gaussian_blur
        ksize: 4
sink:
  type: images
  path: out/%04d.png
)");

  const RunResult r = run_cvpipe({"run", config_});

  EXPECT_EQ(r.exit_code, kExitConfig) << describe(r);
  EXPECT_EQ(r.out, "") << "no summary: nothing ran";
  EXPECT_NE(error_at(r, 9, 16), "") << describe(r);
  EXPECT_FALSE(exists(path("out"))) << "the output folder was created";
}

// yaml-cpp names its parser's state ("illegal map value"); the error adds what to look at.
TEST_F(Validate, AYamlSyntaxErrorSaysWhatToCheck) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"source:\n  type: synthetic\n   width: 64\n", "3:9: invalid YAML: illegal map value (a key where none may be: is "
                                                       "this line indented more than the key above it?"},
      {"source:\n  type: synthetic\n width: 64\n", "3:2: invalid YAML: end of map not found (this line is indented "
                                                      "less than the keys above it, but more than their parent"},
      {"source: {type: synthetic\nstages: []\n", "invalid YAML: end of map flow not found (a { or [ before this is not closed)"},
      {"stages:\n  - name: a\n   ops: []\n", "invalid YAML: end of sequence not found (the keys of a list item start in "
                                              "the column of its first key"},
      {"source:\n\ttype: synthetic\n", "2:6: invalid YAML: illegal map value (this line is indented with a tab: YAML "
                                        "indents with spaces)"}};
  for (const auto& [text, says] : cases) {
    const RunResult r = run_cvpipe({"validate", write("bad.yaml", text)});
    EXPECT_EQ(r.exit_code, 78) << describe(r);
    EXPECT_NE(r.err.find(says), std::string::npos) << describe(r);
  }
}

}  // namespace
}  // namespace cvpipe
