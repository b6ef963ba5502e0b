#include "pipeline/runtime/run_report.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cvpipe {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

std::size_t reason(DropReason r) { return static_cast<std::size_t>(r); }

// A histogram snapshot of `n` samples of `ms` each, on top of `base`'s.
LatencyHistogram::Snapshot with_samples(int n, double ms, const std::vector<std::pair<int, double>>& base = {}) {
  LatencyHistogram h;
  for (const auto& [count, value] : base)
    for (int i = 0; i < count; ++i) h.add(static_cast<std::int64_t>(value * 1e6));
  for (int i = 0; i < n; ++i) h.add(static_cast<std::int64_t>(ms * 1e6));
  return h.snapshot();
}

StageSnapshot stage(std::string name, int workers, std::uint64_t processed, std::uint64_t busy_ns, std::uint64_t queue) {
  StageSnapshot s;
  s.name = std::move(name);
  s.workers = workers;
  s.processed = processed;
  s.busy_ns = busy_ns;
  s.queue = queue;
  return s;
}

// Two snapshots 2 s apart: 62 frames read and 60 written in between, the latter all 10 ms from
// capture to write (100 frames of 50 ms before); stage "blur" (2 workers) busy 2 s of its 4,
// stage "detect" (1 worker) not at all.
struct Interval {
  RunSnapshot last, now;
  Interval() {
    last.ns = 1 * kSecond;
    last.started_ns = kSecond / 2;
    last.read = 100;
    last.written = 90;
    last.latency = with_samples(100, 50);
    last.stages = {stage("blur", 2, 95, 1 * kSecond, 3), stage("detect", 1, 90, 0, 0)};

    now.ns = 3 * kSecond;
    now.started_ns = kSecond / 2;
    now.read = 162;
    now.written = 150;
    now.dropped[reason(DropReason::kQueueFull)] = 10;
    now.dropped[reason(DropReason::kTooOld)] = 2;
    now.latency = with_samples(60, 10, {{100, 50}});
    now.stages = {stage("blur", 2, 155, 3 * kSecond, 4), stage("detect", 1, 150, 0, 0)};
    now.slots_in_use = 5;
    now.slots = 12;
  }
};

TEST(RunReport, DroppedTextIsTheTotalAndTheReasonsThatHappened) {
  RunSnapshot s;
  EXPECT_EQ(dropped_text(s), "0");
  s.dropped[reason(DropReason::kQueueFull)] = 10;
  s.dropped[reason(DropReason::kTooOld)] = 2;
  EXPECT_EQ(dropped_text(s), "12 (queue_full=10 too_old=2)");
  s.dropped[reason(DropReason::kAborted)] = 1;
  EXPECT_EQ(dropped_text(s), "13 (queue_full=10 too_old=2 aborted=1)");
}

TEST(RunReport, StatsLineGivesRatesAndLatenciesOfTheInterval) {
  const Interval i;
  // 10 ms lands in the bucket whose upper edge is 2^(426/32) µs = 10.17 ms.
  EXPECT_EQ(stats_line(i.now, i.last, false),
            "stats read=162 written=150 dropped=12 (queue_full=10 too_old=2) fps_in=31.0 fps_out=30.0"
            " latency_ms p50=10.2 p95=10.2 p99=10.2"
            " | blur workers=2 busy=50.0% queue=4 done=155"
            " | detect workers=1 busy=0.0% queue=0 done=150");
}

TEST(RunReport, StatsLineInlineShowsNoWorkersAndNoQueue) {
  Interval i;
  // --inline: each stage runs on the capture thread, counted as one worker for its busy share.
  i.last.stages[0].workers = i.now.stages[0].workers = 1;
  i.last.stages[1].workers = i.now.stages[1].workers = 1;
  EXPECT_EQ(stats_line(i.now, i.last, true),
            "stats read=162 written=150 dropped=12 (queue_full=10 too_old=2) fps_in=31.0 fps_out=30.0"
            " latency_ms p50=10.2 p95=10.2 p99=10.2"
            " | blur workers=0 busy=100.0% done=155"
            " | detect workers=0 busy=0.0% done=150");
}

TEST(RunReport, StatsLineLeavesOutLatencyWhenNoFrameWasWrittenInTheInterval) {
  RunSnapshot last = RunSnapshot::zero_at(0);
  last.latency = with_samples(3, 20);
  RunSnapshot now = last;
  now.ns = 2 * kSecond;
  now.read = 5;
  now.missed_by_source = 3;
  EXPECT_EQ(stats_line(now, last, false), "stats read=5 written=0 dropped=0 missed_by_source=3 fps_in=2.5 fps_out=0.0");
}

TEST(RunReport, StatsJsonParsesWithTheIntervalRatesAndRunLatencies) {
  Interval i;
  i.now.stages[1].busy_ns = 5 * kSecond;  // more than 2 s of one worker: a long frame that began earlier
  const std::string text = stats_json(i.now, i.last, false, 300);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  const YAML::Node j = YAML::Load(text);
  EXPECT_DOUBLE_EQ(j["elapsed_seconds"].as<double>(), 2.5);
  EXPECT_EQ(j["frames_read"].as<std::uint64_t>(), 162u);
  EXPECT_EQ(j["frames_written"].as<std::uint64_t>(), 150u);
  EXPECT_EQ(j["frames_total"].as<std::int64_t>(), 300);
  EXPECT_EQ(j["frames_dropped"].as<std::uint64_t>(), 12u);
  EXPECT_EQ(j["dropped"]["queue_full"].as<std::uint64_t>(), 10u);
  EXPECT_EQ(j["dropped"]["too_old"].as<std::uint64_t>(), 2u);
  EXPECT_EQ(j["dropped"]["error"].as<std::uint64_t>(), 0u);
  EXPECT_EQ(j["dropped"]["worker_crash"].as<std::uint64_t>(), 0u);
  EXPECT_EQ(j["dropped"]["aborted"].as<std::uint64_t>(), 0u);
  EXPECT_DOUBLE_EQ(j["fps_in"].as<double>(), 31.0);
  EXPECT_DOUBLE_EQ(j["fps_out"].as<double>(), 30.0);
  // Since the start (docs/operations.md): 100 of 50 ms and 60 of 10 ms put p50 at 50 ms.
  EXPECT_GE(j["latency_ms"]["p50"].as<double>(), 50.0);
  EXPECT_LE(j["latency_ms"]["p50"].as<double>(), 50.0 * 1.022);
  EXPECT_EQ(j["slots_in_use"].as<std::uint64_t>(), 5u);
  EXPECT_EQ(j["slots"].as<std::uint64_t>(), 12u);
  const YAML::Node stages = j["stages"];
  ASSERT_TRUE(stages.IsSequence());
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0]["name"].as<std::string>(), "blur");
  EXPECT_EQ(stages[0]["workers"].as<int>(), 2);
  EXPECT_DOUBLE_EQ(stages[0]["fps"].as<double>(), 30.0);
  EXPECT_DOUBLE_EQ(stages[0]["busy"].as<double>(), 0.5);
  EXPECT_EQ(stages[0]["queue"].as<std::uint64_t>(), 4u);
  EXPECT_EQ(stages[0]["frames_processed"].as<std::uint64_t>(), 155u);
  EXPECT_DOUBLE_EQ(stages[1]["busy"].as<double>(), 1.0);  // capped
}

TEST(RunReport, StatsJsonInlineShowsNoWorkersAndBeforeTheStartNoElapsedTime) {
  Interval i;
  i.now.started_ns = 0;
  const YAML::Node j = YAML::Load(stats_json(i.now, i.last, true, -1));
  EXPECT_DOUBLE_EQ(j["elapsed_seconds"].as<double>(), 0.0);
  EXPECT_EQ(j["frames_total"].as<std::int64_t>(), -1);
  EXPECT_EQ(j["stages"][0]["workers"].as<int>(), 0);
  EXPECT_EQ(j["stages"][1]["workers"].as<int>(), 0);
}

TEST(RunReport, ProgressLineGivesPercentRateAndEta) {
  RunSnapshot last = RunSnapshot::zero_at(0);
  last.written = 35;
  RunSnapshot now = last;
  now.ns = kSecond;
  now.written = 120;
  // 180 frames left at 85 fps: 2.1 s.
  EXPECT_EQ(progress_line(now, last, 300), "  120/300 frames  40%  85.0 fps  ETA 0:02  dropped 0");

  // Done counts the dropped frames; a minute and more shows as minutes.
  last.written = 50;
  now.ns = kSecond / 2;
  now.written = 100;
  now.dropped[reason(DropReason::kQueueFull)] = 20;
  EXPECT_EQ(progress_line(now, last, 3000), "  120/3000 frames   4%  100.0 fps  ETA 0:28  dropped 20");
  EXPECT_EQ(progress_line(now, last, 10000), "  120/10000 frames   1%  100.0 fps  ETA 1:38  dropped 20");
}

TEST(RunReport, ProgressLineHasNoEtaWithoutARateOrWhenDone) {
  RunSnapshot last = RunSnapshot::zero_at(0);
  last.written = 40;
  RunSnapshot now = last;
  now.ns = kSecond;
  EXPECT_EQ(progress_line(now, last, 300), "  40/300 frames  13%  0.0 fps  ETA --:--  dropped 0");
  now.written = 310;  // more than the container said
  EXPECT_EQ(progress_line(now, last, 300), "  310/300 frames 100%  270.0 fps  ETA --:--  dropped 0");
}

RunSnapshot end_of_run() {
  RunSnapshot end = RunSnapshot::zero_at(20 * kSecond);
  end.read = 160;
  end.written = 150;
  end.dropped[reason(DropReason::kError)] = 7;
  end.dropped[reason(DropReason::kWorkerCrash)] = 3;
  end.missed_by_source = 4;
  end.latency = with_samples(150, 10);
  end.hop = with_samples(150, 0.1);
  end.detections = {{"person", 12}, {"say \"hi\"\\", 2}};
  end.detections_overflow = 5;
  end.first_frame_ms = 500.25;
  end.first_written_ns = 10 * kSecond;
  end.last_written_ns = 10 * kSecond + 1'500'000'000;
  StageSnapshot s = stage("blur", 2, 155, 1'500'000'000, 0);
  s.restarts = 1;
  s.retries = 2;
  s.latency = with_samples(155, 4);
  end.stages = {s};
  return end;
}

TEST(RunReport, SummaryJsonHasEveryFigureOfTheRun) {
  const std::string text = summary_json(end_of_run(), 2.0, false, 66);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  const YAML::Node j = YAML::Load(text);
  EXPECT_EQ(j["frames_read"].as<std::uint64_t>(), 160u);
  EXPECT_EQ(j["frames_written"].as<std::uint64_t>(), 150u);
  EXPECT_EQ(j["frames_dropped"].as<std::uint64_t>(), 10u);
  EXPECT_EQ(j["dropped"]["error"].as<std::uint64_t>(), 7u);
  EXPECT_EQ(j["dropped"]["worker_crash"].as<std::uint64_t>(), 3u);
  EXPECT_EQ(j["dropped"]["queue_full"].as<std::uint64_t>(), 0u);
  EXPECT_EQ(j["frames_missed_by_source"].as<std::uint64_t>(), 4u);
  EXPECT_DOUBLE_EQ(j["wall_seconds"].as<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["fps"].as<double>(), 75.0);
  EXPECT_GE(j["latency_ms"]["p99"].as<double>(), 10.0);
  EXPECT_LE(j["latency_ms"]["p99"].as<double>(), 10.0 * 1.022);
  ASSERT_TRUE(j["detections"].IsMap());
  EXPECT_EQ(j["detections"].size(), 2u);
  EXPECT_EQ(j["detections"]["person"].as<std::uint64_t>(), 12u);
  EXPECT_EQ(j["detections"]["say \"hi\"\\"].as<std::uint64_t>(), 2u);
  EXPECT_EQ(j["detections_overflow"].as<std::uint64_t>(), 5u);
  ASSERT_TRUE(j["hop_us"].IsMap());
  EXPECT_GE(j["hop_us"]["p50"].as<double>(), 100.0);
  EXPECT_LE(j["hop_us"]["p50"].as<double>(), 100.0 * 1.022);
  EXPECT_DOUBLE_EQ(j["first_frame_ms"].as<double>(), 500.25);
  EXPECT_DOUBLE_EQ(j["last_frame_ms"].as<double>(), 2000.25);  // 500.25 + 1500
  EXPECT_EQ(j["mode"].as<std::string>(), "workers");
  EXPECT_EQ(j["exit_code"].as<int>(), 66);
  const YAML::Node stages = j["stages"];
  ASSERT_TRUE(stages.IsSequence());
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_EQ(stages[0]["name"].as<std::string>(), "blur");
  EXPECT_EQ(stages[0]["workers"].as<int>(), 2);
  EXPECT_EQ(stages[0]["frames_processed"].as<std::uint64_t>(), 155u);
  EXPECT_DOUBLE_EQ(stages[0]["busy_seconds"].as<double>(), 1.5);
  EXPECT_EQ(stages[0]["restarts"].as<std::uint64_t>(), 1u);
  EXPECT_EQ(stages[0]["retries"].as<std::uint64_t>(), 2u);
  EXPECT_GE(stages[0]["latency_ms"]["p50"].as<double>(), 4.0);
  EXPECT_LE(stages[0]["latency_ms"]["p50"].as<double>(), 4.0 * 1.022);
}

TEST(RunReport, SummaryJsonInlineHasNoHopsAndNoWorkers) {
  const YAML::Node j = YAML::Load(summary_json(end_of_run(), 2.0, true, 0));
  EXPECT_FALSE(j["hop_us"].IsDefined());
  EXPECT_EQ(j["mode"].as<std::string>(), "inline");
  EXPECT_EQ(j["exit_code"].as<int>(), 0);
  EXPECT_EQ(j["stages"][0]["workers"].as<int>(), 0);
}

TEST(RunReport, SummaryJsonOfARunWithNoFrameWrittenHasNoFrameTimes) {
  RunSnapshot end = RunSnapshot::zero_at(kSecond);
  end.read = 1;
  end.dropped[reason(DropReason::kAborted)] = 1;
  const YAML::Node j = YAML::Load(summary_json(end, 0.0, false, 70));
  EXPECT_DOUBLE_EQ(j["first_frame_ms"].as<double>(), -1.0);
  EXPECT_DOUBLE_EQ(j["last_frame_ms"].as<double>(), -1.0);
  EXPECT_DOUBLE_EQ(j["fps"].as<double>(), 0.0);  // no wall time: not a division by 0
  EXPECT_TRUE(j["detections"].IsMap());
  EXPECT_EQ(j["detections"].size(), 0u);
  EXPECT_TRUE(j["stages"].IsSequence());
  EXPECT_EQ(j["stages"].size(), 0u);
}

TEST(RunReport, TakeSnapshotCopiesEveryCounter) {
  RunStats stats;
  stats.started_ns = 3;
  stats.read = 9;
  stats.written = 6;
  stats.count_drop(DropReason::kError);
  stats.count_drop(DropReason::kQueueFull);
  stats.count_drop(DropReason::kQueueFull);
  stats.missed_by_source = 4;
  stats.source_reconnects = 1;
  stats.slots_in_use = 2;
  stats.slots_total = 8;
  stats.latency.add(5'000'000);
  stats.hop.add(80'000);
  stats.hop.add(90'000);
  auto st = std::make_unique<StageStats>();
  st->name = "edges";
  st->workers = 3;
  st->processed = 7;
  st->busy_ns = 12345;
  st->queue_depth = 1;
  st->restarts = 2;
  st->retries = 1;
  st->latency.add(1'000'000);
  stats.stages.push_back(std::move(st));
  Detections d;
  ASSERT_TRUE(d.add("car", 0, 0, 1, 1, 0.5f));
  ASSERT_TRUE(d.add("car", 0, 0, 1, 1, 0.5f));
  d.overflow = 4;
  stats.detections.add(d);
  stats.first_frame_ms = 120.5;
  stats.first_written_ns = 1000;
  stats.last_written_ns = 5000;

  const RunSnapshot s = take_snapshot(stats, 77);
  EXPECT_EQ(s.ns, 77);
  EXPECT_EQ(s.started_ns, 3);
  EXPECT_EQ(s.read, 9u);
  EXPECT_EQ(s.written, 6u);
  EXPECT_EQ(s.dropped[reason(DropReason::kError)], 1u);
  EXPECT_EQ(s.dropped[reason(DropReason::kQueueFull)], 2u);
  EXPECT_EQ(s.dropped_total(), 3u);
  EXPECT_EQ(s.missed_by_source, 4u);
  EXPECT_EQ(s.reconnects, 1u);
  EXPECT_EQ(s.slots_in_use, 2u);
  EXPECT_EQ(s.slots, 8u);
  EXPECT_EQ(s.latency.count, 1u);
  EXPECT_EQ(s.hop.count, 2u);
  ASSERT_EQ(s.stages.size(), 1u);
  EXPECT_EQ(s.stages[0].name, "edges");
  EXPECT_EQ(s.stages[0].workers, 3);
  EXPECT_EQ(s.stages[0].processed, 7u);
  EXPECT_EQ(s.stages[0].busy_ns, 12345u);
  EXPECT_EQ(s.stages[0].queue, 1u);
  EXPECT_EQ(s.stages[0].restarts, 2u);
  EXPECT_EQ(s.stages[0].retries, 1u);
  EXPECT_EQ(s.stages[0].latency.count, 1u);
  EXPECT_EQ(s.detections, (std::map<std::string, std::uint64_t, std::less<>>{{"car", 2}}));
  EXPECT_EQ(s.detections_overflow, 4u);
  EXPECT_DOUBLE_EQ(s.first_frame_ms, 120.5);
  EXPECT_EQ(s.first_written_ns, 1000);
  EXPECT_EQ(s.last_written_ns, 5000);
  // What it renders agrees with what it copied.
  EXPECT_EQ(dropped_text(s), "3 (queue_full=2 error=1)");
  EXPECT_DOUBLE_EQ(YAML::Load(summary_json(s, 1.0, false, 0))["last_frame_ms"].as<double>(), 120.504);
}

TEST(RunReport, BusyShareIsAtMostOneAndCountsNoWorkersAsOne) {
  EXPECT_DOUBLE_EQ(busy_share(500'000'000, 1.0, 1), 0.5);
  EXPECT_DOUBLE_EQ(busy_share(500'000'000, 1.0, 2), 0.25);
  EXPECT_DOUBLE_EQ(busy_share(3 * kSecond, 1.0, 2), 1.0);
  EXPECT_DOUBLE_EQ(busy_share(500'000'000, 1.0, 0), 0.5);
  EXPECT_DOUBLE_EQ(busy_share(500'000'000, 1.0, -4), 0.5);
}

TEST(RunReport, StageBusyShareOfSnapshotsTakenAtOnceIsFinite) {
  Interval i;
  i.now.ns = i.last.ns;
  const double share = stage_busy_share(i.last, i.now, 0);
  EXPECT_TRUE(std::isfinite(share));
  EXPECT_DOUBLE_EQ(share, 1.0);
  EXPECT_DOUBLE_EQ(stage_busy_share(i.last, i.now, 1), 0.0);  // no growth: idle, not NaN
  EXPECT_GE(interval_seconds(i.last, i.now), 1e-9);
}

TEST(RunReport, BusyShareOfNoTimeIsNotADivisionByZero) {
  // Nothing done in no time is idle, not 100% busy (0/0 is NaN, which std::min turns into 1).
  EXPECT_DOUBLE_EQ(busy_share(0, 0.0, 1), 0.0);
  const double share = busy_share(1000, 0.0, 1);
  EXPECT_TRUE(std::isfinite(share));
  EXPECT_LE(share, 1.0);
}

}  // namespace
}  // namespace cvpipe
