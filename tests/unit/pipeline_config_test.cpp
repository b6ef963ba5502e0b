#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/runtime/pipeline_loader.hpp"
#include "pipeline/core/clock.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

namespace cvpipe {
namespace {

const char* const kGood = R"(source:
  type: synthetic
  width: 64
  height: 48
  frames: 5
stages:
  - name: smooth
    workers: 2
    ops:
      - op: gaussian_blur
        ksize: 3
  - name: edges
    ops:
      - op: grayscale
      - op: canny
sink:
  type: null
)";

// What `run` and `validate` report.
std::vector<ConfigError> errors_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    PipelineConfig c;
    (void)parse_and_resolve(text, "p.yaml", "", overrides, c);
  } catch (const ConfigException& e) {
    return e.errors();
  }
  return {};
}

TEST(PipelineConfig, ParsesStagesAndDerivesSlotsFromWorkerCounts) {
  PipelineConfig c = parse_config_text(kGood, "p.yaml", "", {});
  ASSERT_EQ(c.stages.size(), 2u);
  EXPECT_EQ(c.stages[0].name, "smooth");
  EXPECT_EQ(c.stages[0].workers, 2);
  EXPECT_EQ(c.stages[1].workers, 1);
  EXPECT_EQ(c.stages[1].ops.size(), 2u);
  EXPECT_FALSE(c.slots_given);
  EXPECT_EQ(c.slots, 2 * 3 + 4);
  EXPECT_EQ(c.source.type, "synthetic");
  EXPECT_EQ(c.sink.type, "null");
}

TEST(PipelineConfig, ResolveComputesEveryFormatAndTheLargestFrame) {
  PipelineConfig c = parse_config_text(kGood, "p.yaml", "", {});
  auto source = resolve(c);
  ASSERT_TRUE(source);
  EXPECT_EQ(c.source_format, (FrameFormat{64, 48, CV_8UC3}));
  EXPECT_EQ(c.stages[1].input, (FrameFormat{64, 48, CV_8UC3}));
  EXPECT_EQ(c.output_format, (FrameFormat{64, 48, CV_8UC1}));
  EXPECT_EQ(c.frame_bytes, 64u * 48u * 3u);
  EXPECT_EQ(c.buffers_per_slot, 2);
}

TEST(PipelineConfig, SetOverridesSelectStagesByName) {
  PipelineConfig c = parse_config_text(kGood, "p.yaml", "", {"stages.edges.workers=3", "buffers.slots=7"});
  EXPECT_EQ(c.stages[1].workers, 3);
  EXPECT_EQ(c.slots, 7);
  EXPECT_TRUE(c.slots_given);
  // Workers read the document with the overrides applied.
  EXPECT_NE(c.resolved_yaml.find("workers: 3"), std::string::npos);
}

TEST(PipelineConfig, FilesBlockAndLiveSourcesDropTheOldestByDefault) {
  const PipelineConfig file = parse_config_text(kGood, "p.yaml", "", {});
  EXPECT_EQ(file.capture_drop_policy, DropPolicy::kBlock);
  EXPECT_EQ(file.stages[0].drop_policy, DropPolicy::kBlock);
  EXPECT_EQ(file.stages[0].queue, 2) << "one waiting frame per worker";
  EXPECT_EQ(file.stages[0].max_latency_ms, 0);

  const PipelineConfig live = parse_config_text(kGood, "p.yaml", "", {"source.pace=realtime"});
  EXPECT_EQ(live.capture_drop_policy, DropPolicy::kDropOldest);
  EXPECT_EQ(live.stages[0].drop_policy, DropPolicy::kDropOldest);
  EXPECT_EQ(live.stages[1].drop_policy, DropPolicy::kDropOldest);
}

TEST(PipelineConfig, DropPolicyQueueAndMaxLatencyAreReadPerStage) {
  const PipelineConfig c = parse_config_text(
      kGood, "p.yaml", "",
      {"source.drop_policy=drop_newest", "stages.edges.drop_policy=drop_oldest", "stages.edges.queue=5",
       "stages.edges.max_latency_ms=250"});
  EXPECT_EQ(c.capture_drop_policy, DropPolicy::kDropNewest);
  EXPECT_EQ(c.stages[0].drop_policy, DropPolicy::kBlock);
  EXPECT_EQ(c.stages[1].drop_policy, DropPolicy::kDropOldest);
  EXPECT_EQ(c.stages[1].queue, 5);
  EXPECT_EQ(c.stages[1].max_latency_ms, 250);
  EXPECT_STREQ(drop_policy_name(c.stages[1].drop_policy), "drop_oldest");
}

TEST(PipelineConfig, BadDropPolicyQueueAndMaxLatencyAreNamedWithTheirPosition) {
  std::string text = kGood;
  text.replace(text.find("    workers: 2\n"), 15,
               "    workers: 2\n    drop_policy: drop_latest\n    queue: 0\n    max_latency_ms: -5\n");
  auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].path, "stages[0].drop_policy");
  EXPECT_EQ(errors[0].line, 9);
  EXPECT_NE(errors[0].message.find("block, drop_oldest, drop_newest"), std::string::npos) << errors[0].message;
  EXPECT_EQ(errors[1].path, "stages[0].queue");
  EXPECT_EQ(errors[2].path, "stages[0].max_latency_ms");
}

TEST(PipelineConfig, BadOverrideValueIsReportedAgainstTheCommandLine) {
  auto errors = errors_of(kGood, {"stages.edges.workers=0"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "--set stages.edges.workers=0: stages[1].workers: expected an integer in [1, 64], got 0");
}

TEST(PipelineConfig, AnUnknownSectionMadeByAnOverrideIsReportedAgainstIt) {
  auto errors = errors_of(kGood, {"sinks.path=x.mp4"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "--set sinks.path=x.mp4: sinks: unknown key (did you mean \"sink\"?)");
}

TEST(PipelineConfig, OverrideOfAnUnknownStageListsTheNames) {
  auto errors = errors_of(kGood, {"stages.edgs.workers=2"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("names: smooth, edges"), std::string::npos);
}

TEST(PipelineConfig, SetPathsTakeIndicesInBracketsAsErrorsPrintThem) {
  PipelineConfig c = parse_config_text(kGood, "p.yaml", "", {"stages[1].workers=3", "stages[0].ops[0].ksize=7"});
  EXPECT_EQ(c.stages[1].workers, 3);
  EXPECT_NE(c.resolved_yaml.find("ksize: 7"), std::string::npos) << c.resolved_yaml;
  // Brackets, dotted indices and names select the same item, also mixed.
  c = parse_config_text(kGood, "p.yaml", "", {"stages.edges.ops[1].low=50", "stages.1.ops.1.high=150"});
  EXPECT_NE(c.resolved_yaml.find("low: 50"), std::string::npos) << c.resolved_yaml;
  EXPECT_NE(c.resolved_yaml.find("high: 150"), std::string::npos) << c.resolved_yaml;
  // A bad value is reported at the path the errors print, against the --set.
  auto errors = errors_of(kGood, {"stages[1].workers=0"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "--set stages[1].workers=0: stages[1].workers: expected an integer in [1, 64], got 0");
}

TEST(PipelineConfig, AMalformedBracketInASetPathIsAnErrorNamingTheSet) {
  for (const std::string set : {"stages[x].workers=3", "stages[1.workers=3", "stages[1=3", "stages[].workers=3",
                                "stages[1]workers=3", "stages[-1].workers=3"}) {
    const auto errors = errors_of(kGood, {set});
    ASSERT_EQ(errors.size(), 1u) << set;
    EXPECT_EQ(errors[0].file, "--set " + set);
    EXPECT_EQ(errors[0].line, 0);
    EXPECT_NE(errors[0].message.find("stages.1.workers or stages[1].workers"), std::string::npos)
        << errors[0].to_string();
  }
  const auto errors = errors_of(kGood, {"sink[0].type=images"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "--set sink[0].type=images: [0] selects a list item, but sink is not a list");
}

TEST(PipelineConfig, AnIndexOutOfRangeInASetSaysHowManyItemsThereAre) {
  auto errors = errors_of(kGood, {"stages.5.workers=3"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "--set stages.5.workers=3: index 5 is out of range: stages has 2 items, "
                                   "0 to 1 (names: smooth, edges)");
  errors = errors_of(kGood, {"stages[1].ops[2].op=canny"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "--set stages[1].ops[2].op=canny: index 2 is out of range: stages[1].ops has "
                                   "2 items, 0 to 1");
}

TEST(PipelineConfig, ChainThatDoesNotFitIsAConfigErrorAtTheOp) {
  std::string text = kGood;
  text.replace(text.find("      - op: grayscale\n"), 22, "");
  auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "stages[1].ops[0]");
  EXPECT_EQ(errors[0].line, 14);
  // The format it got, once.
  EXPECT_EQ(errors[0].message, "canny expects 8-bit 1-channel input (add a grayscale op before it), got 64x48 8UC3");
}

TEST(PipelineConfig, AChainErrorAtAnOpThatASetReplacedNamesTheSet) {
  // In the file stages[1].ops[0] is a grayscale: its line does not hold the canny.
  const std::string expected = "stages[1].ops[0]: canny expects 8-bit 1-channel input (add a grayscale op before "
                               "it), got 64x48 8UC3";
  auto errors = errors_of(kGood, {"stages.edges.ops.0.op=canny"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "--set stages.edges.ops.0.op=canny: " + expected);
  // The same when the chain is followed despite other errors.
  errors = errors_of(kGood, {"stages[1].ops[0].op=canny", "log.levle=debug"});
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[1].to_string(), "--set stages[1].ops[0].op=canny: " + expected);
  // An op, or a list of ops, given whole.
  errors = errors_of(kGood, {"stages.edges.ops.0={op: canny}"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "--set stages.edges.ops.0={op: canny}");
  errors = errors_of(kGood, {"stages.edges.ops=[{op: canny}]"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "--set stages.edges.ops=[{op: canny}]");
  // A parameter given by --set leaves the op where the file has it.
  std::string text = kGood;
  text.replace(text.find("      - op: grayscale\n"), 22, "");
  errors = errors_of(text, {"stages.edges.ops.0.low=10"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "p.yaml");
  EXPECT_EQ(errors[0].line, 14);
}

TEST(PipelineConfig, ASinkErrorAfterASetGaveTheSinksTypeNamesTheSet) {
  std::string text = kGood;
  const std::string blur = "      - op: gaussian_blur\n        ksize: 3\n";
  text.replace(text.find(blur), blur.size(), "      - op: resize\n        width: 1\n        height: 1\n");
  auto errors = errors_of(text, {"sink.type=video", "sink.path=x.mp4"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "--set sink.type=video") << errors[0].to_string();
  EXPECT_EQ(errors[0].path, "sink");
}

TEST(PipelineConfig, AChainThatDoesNotFitIsReportedWithTheOtherErrors) {
  std::string text = kGood;
  text.replace(text.find("      - op: grayscale\n"), 22, "");
  text.replace(text.find("workers: 2"), 10, "workers: 0");
  auto errors = errors_of(text, {"log.levle=debug"});
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].path, "stages[0].workers");
  EXPECT_EQ(errors[1].path, "stages[1].ops[0]");
  EXPECT_NE(errors[1].message.find("canny expects 8-bit 1-channel input (add a grayscale op before it), got 64x48 8UC3"), std::string::npos);
  EXPECT_EQ(errors[2].path, "log.levle");
}

TEST(PipelineConfig, ChainsAreCheckedOnlyUpToAnOpWithAnError) {
  // The first stage's unknown op leaves the format after it unknown: canny is not blamed for it.
  std::string text = kGood;
  text.replace(text.find("op: gaussian_blur"), 17, "op: grayscal");
  text.replace(text.find("      - op: grayscale\n"), 22, "");
  auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 1u) << errors[1].to_string();
  EXPECT_EQ(errors[0].path, "stages[0].ops[0].op");
  EXPECT_NE(errors[0].message.find("did you mean \"grayscale\""), std::string::npos);
}

TEST(PipelineConfig, AnOpBeforeOneWithABadParameterIsCheckedInTheSameRun) {
  std::string text = kGood;
  text.replace(text.find("      - op: grayscale\n      - op: canny\n"), 40,
               "      - op: canny\n      - op: median_blur\n        ksize: \"5\"\n");
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].path, "stages[1].ops[0]");
  EXPECT_NE(errors[0].message.find("canny expects 8-bit 1-channel input (add a grayscale op before it), got 64x48 8UC3"), std::string::npos) << errors[0].to_string();
  EXPECT_EQ(errors[1].path, "stages[1].ops[1].ksize");
}

TEST(PipelineConfig, TheChainIsFollowedAcrossStagesUpToTheFirstOpThatDoesNotFitOrParse) {
  const auto errors = errors_of(R"(source: {type: synthetic, width: 64, height: 48, frames: 5}
stages:
  - name: a
    ops: [{op: canny}, {op: median_blur, ksize: 4}]
  - name: b
    ops: [{op: threshold, type: otsu}]
sink: {type: null}
)");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].path, "stages[0].ops[0]");
  EXPECT_NE(errors[0].message.find("canny expects 8-bit 1-channel input (add a grayscale op before it), got 64x48 8UC3"), std::string::npos) << errors[0].to_string();
  EXPECT_EQ(errors[1].path, "stages[0].ops[1].ksize");
  EXPECT_EQ(errors[2].path, "stages[1].ops[0].type");

  // Through a stage whose ops all parsed, into the next, up to its op with a bad parameter.
  const auto later = errors_of(R"(source: {type: synthetic, width: 64, height: 48, frames: 5}
stages:
  - name: a
    workers: 0
    ops: [{op: gaussian_blur}]
  - name: b
    ops: [{op: canny}, {op: median_blur, ksize: 4}, {op: canny}]
sink: {type: null}
)");
  ASSERT_EQ(later.size(), 3u);
  EXPECT_EQ(later[0].path, "stages[0].workers");
  EXPECT_EQ(later[1].path, "stages[1].ops[0]");
  EXPECT_EQ(later[2].path, "stages[1].ops[1].ksize") << "the second canny's input is unknown";
}

TEST(PipelineConfig, AnOpWithADuplicateKeyEndsTheCheckedChain) {
  const auto errors = errors_of(R"(source: {type: synthetic, width: 64, height: 48, frames: 5}
stages:
  - name: a
    ops: [{op: resize, width: 8, width: 9, height: 8}, {op: canny}]
sink: {type: null}
)");
  ASSERT_EQ(errors.size(), 1u) << errors[1].to_string();
  EXPECT_EQ(errors[0].path, "stages[0].ops[0].width") << "canny, on 8UC3 frames of a size not known, is not blamed";
}

TEST(PipelineConfig, UnknownOpAndDuplicateStageAreReportedTogether) {
  std::string text = kGood;
  text.replace(text.find("name: edges"), 11, "name: smooth");
  text.replace(text.find("op: canny"), 9, "op: cany");
  auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].path, "stages[1].name");
  EXPECT_NE(errors[0].message.find("duplicate stage name"), std::string::npos);
  EXPECT_EQ(errors[1].path, "stages[1].ops[1].op");
  EXPECT_NE(errors[1].message.find("did you mean \"canny\""), std::string::npos);
  EXPECT_NE(errors[1].message.find("known ops:"), std::string::npos);
}

TEST(PipelineConfig, MissingSectionsAreNamed) {
  auto errors = errors_of("log:\n  level: info\n");
  ASSERT_EQ(errors.size(), 3u);
  std::string all;
  for (const auto& e : errors) all += e.to_string() + "\n";
  EXPECT_NE(all.find("source: missing required key"), std::string::npos) << all;
  EXPECT_NE(all.find("stages: missing required key"), std::string::npos) << all;
  EXPECT_NE(all.find("sink: missing required key"), std::string::npos) << all;
}

TEST(PipelineConfig, ADocumentThatIsNotAMappingIsOneErrorNotACrash) {
  // Two lines that YAML reads as one plain scalar (found by the config fuzzer).
  for (const char* text : {"log_ l2\n :gradient\n", "just words\n", "- a\n- b\n"}) {
    auto errors = errors_of(text);
    ASSERT_EQ(errors.size(), 1u) << text;
    EXPECT_NE(errors[0].message.find("expected a mapping"), std::string::npos) << errors[0].to_string();
  }
}

TEST(PipelineConfig, InvalidYamlGivesItsPosition) {
  auto errors = errors_of("source:\n  type: [file\n");
  ASSERT_FALSE(errors.empty());
  EXPECT_GT(errors[0].line, 0);
  EXPECT_NE(errors[0].message.find("invalid YAML"), std::string::npos);
}

TEST(PipelineConfig, ASecondYamlDocumentIsAnErrorWhereItStarts) {
  const std::string second = "---\nsink:\n  type: video\n";
  auto errors = errors_of(kGood + second);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "p.yaml:18:1: a config file holds one YAML document; a second one starts here");
  // The first is still checked, with the --set applied; so is a bare "---" at the end, a document too.
  errors = errors_of(kGood + std::string("---\n"), {"stages.edges.workers=0"});
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].line, 18);
  EXPECT_EQ(errors[1].file, "--set stages.edges.workers=0");
  // Invalid YAML after the second start changes nothing.
  errors = errors_of(kGood + std::string("---\nsink: [\n"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 18);
  // One document, started or ended explicitly, is fine.
  EXPECT_TRUE(errors_of("---\n" + std::string(kGood) + "...\n").empty());
}

TEST(PipelineConfig, WorkersReadTheirStageFromTheResolvedDocument) {
  PipelineConfig c = parse_config_text(kGood, "p.yaml", "", {});
  auto ops = parse_stage_ops(c.resolved_yaml, 1);
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].spec.name, "grayscale");
  EXPECT_EQ(ops[1].spec.name, "canny");
  EXPECT_THROW(parse_stage_ops(c.resolved_yaml, 2), ConfigException);
}

// Secrets from outside the file: `!env NAME` and `!file PATH` (relative to the config's folder).
TEST(PipelineConfigSecrets, EnvAndFileTagsGiveTheValueWhichNothingShows) {
  ::setenv("CVPIPE_TEST_SECRET_PATH", "from-env-s3cret.jsonl", 1);
  PipelineConfig c = parse_config_text(std::string(kGood) + "results: {path: !env CVPIPE_TEST_SECRET_PATH}\n", "p.yaml", "", {});
  ::unsetenv("CVPIPE_TEST_SECRET_PATH");
  EXPECT_EQ(c.results_path, "from-env-s3cret.jsonl");
  EXPECT_EQ(c.secret_paths.count("results.path"), 1u);
  EXPECT_EQ(c.shown_yaml.find("s3cret"), std::string::npos) << c.shown_yaml;
  EXPECT_NE(c.shown_yaml.find("path: \"***\""), std::string::npos) << c.shown_yaml;

  const std::string dir = ::testing::TempDir() + "cvpipe-secret-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  { std::ofstream(dir + "/path.txt") << "from-file-s3cret.jsonl\n"; }
  c = parse_config_text(std::string(kGood) + "results: {path: !file path.txt}\n", dir + "/p.yaml", dir, {});
  // Read relative to the config, one newline left out (and, being a path, taken relative to it too).
  EXPECT_EQ(c.results_path, dir + "/from-file-s3cret.jsonl");
  EXPECT_EQ(c.shown_yaml.find("s3cret"), std::string::npos) << c.shown_yaml;
  std::filesystem::remove_all(dir);
}

// Workers read the stages alone: an op's secret is there for it, the source's URL is not.
TEST(PipelineConfigSecrets, WorkersReadTheStagesAloneWithTheirOwnValues) {
  ::setenv("CVPIPE_TEST_CASCADE", "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml", 1);
  const PipelineConfig c = parse_config_text(
      "source: {type: synthetic, width: 64, height: 48, frames: 5}\n"
      "stages: [{name: faces, ops: [{op: haar_faces, cascade: !env CVPIPE_TEST_CASCADE}]}]\n"
      "sink: {type: null}\nresults: {path: \"rtsp://u:s3cret@h/x\"}\n",
      "p.yaml", "", {});
  ::unsetenv("CVPIPE_TEST_CASCADE");
  EXPECT_NE(c.worker_yaml.find("cascade: /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"),
            std::string::npos)
      << c.worker_yaml;
  EXPECT_EQ(c.worker_yaml.find("source"), std::string::npos) << c.worker_yaml;
  EXPECT_EQ(c.worker_yaml.find("s3cret"), std::string::npos) << c.worker_yaml;
  EXPECT_NE(c.shown_yaml.find("cascade: \"***\""), std::string::npos) << c.shown_yaml;
  const std::vector<OpEntry> ops = parse_stage_ops(c.worker_yaml, 0, "");
  ASSERT_EQ(ops.size(), 1u);
}

TEST(PipelineConfigSecrets, AMissingVariableOrFileIsAnErrorAtTheKey) {
  ::unsetenv("CVPIPE_TEST_NOT_SET");
  auto errors = errors_of(std::string(kGood) + "results: {path: !env CVPIPE_TEST_NOT_SET}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].to_string().find("results.path"), std::string::npos) << errors[0].to_string();
  EXPECT_NE(errors[0].message.find("CVPIPE_TEST_NOT_SET (!env) is not set"), std::string::npos) << errors[0].to_string();
  EXPECT_EQ(errors[0].line, 18);
  errors = errors_of(std::string(kGood) + "results: {path: !file /nonexistent/secret}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("cannot read the secret file /nonexistent/secret"), std::string::npos)
      << errors[0].to_string();
  errors = errors_of(std::string(kGood) + "results: {path: !env}\n");
  ASSERT_GE(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("!env takes an environment variable's name"), std::string::npos) << errors[0].to_string();
}

TEST(PipelineConfigSecrets, URLsAreShownWithTheirCredentialsMasked) {
  const PipelineConfig c = parse_config_text(std::string(kGood) + "results: {path: \"rtsp://admin:p/w@d@cam/x?token=abc\"}\n",
                                             "p.yaml", "", {});
  EXPECT_EQ(c.shown_yaml.find("p/w@d"), std::string::npos) << c.shown_yaml;
  EXPECT_EQ(c.shown_yaml.find("abc"), std::string::npos) << c.shown_yaml;
  EXPECT_NE(c.shown_yaml.find("rtsp://admin:***@cam/x"), std::string::npos) << c.shown_yaml;
}

// "Billion laughs": nine levels of nine aliases, 684 bytes that expand to 387 million values.
TEST(PipelineConfigHostile, AnAliasBombIsRefusedAtOnce) {
  std::string bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    const char p = static_cast<char>(c - 1);
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) bomb += std::string(i ? "," : "") + "*" + p;
    bomb += "]\n";
  }
  const std::int64_t start = monotonic_ns();
  const auto errors = errors_of(std::string(kGood) + bomb);
  EXPECT_LT(monotonic_ns() - start, 2'000'000'000LL);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("expand it to more than 100000 values"), std::string::npos) << errors[0].to_string();
  // A few aliases, as people use them, are fine.
  EXPECT_TRUE(errors_of("source: {type: synthetic, width: 64, height: 48, frames: 5}\n"
                        "stages: [{name: a, ops: [&blur {op: gaussian_blur, ksize: 3}]}, {name: b, ops: [*blur]}]\n"
                        "sink: {type: null}\n")
                  .empty());
}

TEST(PipelineConfigHostile, TheFrameSizeLimitIsAKeyWithBounds) {
  EXPECT_EQ(parse_config_text(kGood, "p.yaml", "", {}).source_limits.max_frame_pixels, kDefaultMaxFramePixels);
  EXPECT_EQ(parse_config_text(std::string(kGood) + "limits: {max_frame_pixels: 1000000}\n", "p.yaml", "", {})
                .source_limits.max_frame_pixels,
            1000000);
  const auto errors = errors_of(std::string(kGood) + "limits: {max_frame_pixels: 10}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].to_string().find("limits.max_frame_pixels"), std::string::npos) << errors[0].to_string();
}

}  // namespace
}  // namespace cvpipe

namespace cvpipe {
namespace {

const char* const kOrdered = R"(source: {type: synthetic, width: 64, height: 48, frames: 5}
stages:
  - name: detect
    workers: 2
    ops:
      - op: gaussian_blur
  - name: moving
    workers: 2
    ops:
      - op: motion
  - name: show
    workers: 2
    ops:
      - op: draw
sink: {type: null}
)";

TEST(PipelineConfigOrdered, AStatefulOpOnTwoWorkersIsRejectedAtTheWorkersKey) {
  const auto errors = errors_of(kOrdered);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string().rfind("p.yaml:8:14: stages[1].workers: op motion keeps state from frame to frame, "
                                        "so stage \"moving\" is ordered: it runs on one worker",
                                        0),
            0u)
      << errors[0].to_string();
  EXPECT_NE(errors[0].message.find("got workers: 2"), std::string::npos);
}

TEST(PipelineConfigOrdered, AStatefulOpMakesItsStageOrderedAndOnlyThatOne) {
  const PipelineConfig c = parse_config_text(kOrdered, "p.yaml", "", {"stages.moving.workers=1"});
  EXPECT_FALSE(c.stages[0].ordered);
  EXPECT_TRUE(c.stages[1].ordered);
  EXPECT_FALSE(c.stages[2].ordered);
  EXPECT_EQ(c.stages[2].workers, 2);
}

TEST(PipelineConfigOrdered, TwoWorkersGivenWithSetPointAtTheCommandLine) {
  std::string one_worker = kOrdered;
  one_worker.replace(one_worker.find("workers: 2\n    ops:\n      - op: motion"), 10, "workers: 1");
  const auto errors = errors_of(one_worker, {"stages.moving.workers=2"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "--set stages.moving.workers=2");
  EXPECT_NE(errors[0].message.find("ordered"), std::string::npos) << errors[0].to_string();
}

TEST(PipelineConfigOrdered, OrderedTrueOrdersAStatelessStageAndFalseCannotUnorderAStatefulOne) {
  std::string text = kOrdered;
  text.replace(text.find("  - name: show\n    workers: 2"), 29, "  - name: show\n    ordered: true");
  text.replace(text.find("workers: 2\n    ops:\n      - op: motion"), 10, "ordered: false");
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 8);
  EXPECT_EQ(errors[0].path, "stages[1].ordered");
  EXPECT_NE(errors[0].message.find("op motion keeps state"), std::string::npos) << errors[0].to_string();
  text.replace(text.find("ordered: false"), 14, "ordered: true");
  const PipelineConfig c = parse_config_text(text, "p.yaml", "", {});
  EXPECT_TRUE(c.stages[1].ordered);
  EXPECT_TRUE(c.stages[2].ordered);
  EXPECT_EQ(c.stages[2].workers, 1);
}

TEST(PipelineConfigResults, PathIsRelativeToTheConfigAndDashIsStdout) {
  const std::string base = std::string(kGood) + "results: {path: out/r.jsonl}\n";
  EXPECT_EQ(parse_config_text(base, "cfg/p.yaml", "cfg", {}).results_path, "cfg/out/r.jsonl");
  EXPECT_EQ(parse_config_text(kGood, "p.yaml", "", {"results.path=-"}).results_path, "-");
  EXPECT_EQ(parse_config_text(std::string(kGood) + "results: {path: \"-\"}\n", "p.yaml", "", {}).results_path, "-");
  EXPECT_EQ(parse_config_text(kGood, "p.yaml", "", {}).results_path, "");
}

TEST(PipelineConfigResults, MissingPathUnknownKeyAndTheSinksFileAreErrors) {
  auto errors = errors_of(std::string(kGood) + "results: {pth: x.jsonl}\n");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].to_string().find("results.path: missing required key"), std::string::npos) << errors[0].to_string();
  EXPECT_NE(errors[1].to_string().find("unknown key (did you mean \"path\"?)"), std::string::npos) << errors[1].to_string();
  std::string video = kGood;
  video.replace(video.find("type: null"), 10, "type: video\n  path: same.mp4");
  errors = errors_of(video + "results: {path: same.mp4}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("is the sink's file too"), std::string::npos) << errors[0].to_string();
}
}  // namespace
}  // namespace cvpipe
