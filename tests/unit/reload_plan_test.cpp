#include "pipeline/config/reload.hpp"

#include <gtest/gtest.h>

namespace cvpipe {
namespace {

const char* const kRunning = R"(source: {type: synthetic, width: 64, height: 48}
stages:
  - name: smooth
    workers: 2
    ops: [{op: gaussian_blur, ksize: 3}]
  - name: edges
    ops: [{op: grayscale}, {op: canny}]
sink: {type: "null"}
)";

ReloadPlan plan(const std::string& after_text, const std::vector<std::string>& overrides = {}) {
  const PipelineConfig before = parse_config_text(kRunning, "p.yaml", "", {});
  const PipelineConfig after = parse_config_text(after_text, "p.yaml", "", overrides);
  return plan_reload(before, after);
}

TEST(ReloadPlan, TheSameConfigChangesNothing) {
  const ReloadPlan p = plan(kRunning);
  EXPECT_EQ(p.workers, (std::vector<int>{2, 1}));
  EXPECT_TRUE(p.resized.empty());
  EXPECT_TRUE(p.ignored.empty());
}

TEST(ReloadPlan, KeysInAnotherOrderAreNotAChange) {
  const ReloadPlan p = plan(R"(sink: {type: "null"}
stages:
  - ops: [{op: gaussian_blur, ksize: 3}]
    workers: 2
    name: smooth
  - name: edges
    workers: 1
    ops: [{op: grayscale}, {op: canny}]
source: {height: 48, width: 64, type: synthetic}
)");
  EXPECT_TRUE(p.resized.empty());
  EXPECT_TRUE(p.ignored.empty()) << p.ignored.front();
}

TEST(ReloadPlan, WorkerCountsAreApplied) {
  const ReloadPlan p = plan(kRunning, {"stages.smooth.workers=4", "stages.edges.workers=3"});
  EXPECT_EQ(p.workers, (std::vector<int>{4, 3}));
  EXPECT_EQ(p.resized, (std::vector<std::string>{"smooth 2 -> 4", "edges 1 -> 3"}));
  EXPECT_TRUE(p.ignored.empty());
}

TEST(ReloadPlan, OtherChangesAreNamedAndNotApplied) {
  const ReloadPlan p = plan(kRunning, {"stages.edges.workers=2", "stages.smooth.ops.0.ksize=5", "sink.type=images",
                                       "sink.path=out/%03d.png", "limits.frame_timeout=3"});
  EXPECT_EQ(p.workers, (std::vector<int>{2, 2}));
  EXPECT_EQ(p.resized, (std::vector<std::string>{"edges 1 -> 2"}));
  EXPECT_EQ(p.ignored, (std::vector<std::string>{"limits", "sink", "stages.smooth (other than workers)"}));
}

TEST(ReloadPlan, AddedOrRenamedStagesKeepTheRunningCounts) {
  std::string renamed = kRunning;
  renamed.replace(renamed.find("name: edges"), 11, "name: lines");
  const ReloadPlan p = plan(renamed, {"stages.smooth.workers=5"});
  EXPECT_EQ(p.workers, (std::vector<int>{2, 1}));
  EXPECT_TRUE(p.resized.empty());
  EXPECT_EQ(p.ignored, (std::vector<std::string>{"stages (added, removed, renamed or reordered)"}));
}

}  // namespace
}  // namespace cvpipe
