#include "pipeline/runtime/run_stats.hpp"

#include <gtest/gtest.h>

namespace cvpipe {
namespace {

TEST(LatencyHistogram, PercentilesBoundTheSamplesFromAboveWithinAThirtySecondOctave) {
  LatencyHistogram h;
  for (int i = 1; i <= 100; ++i) h.add(static_cast<std::int64_t>(i) * 1'000'000);  // 1..100 ms
  EXPECT_EQ(h.count(), 100u);
  const double p50 = h.percentile_ms(50), p99 = h.percentile_ms(99);
  EXPECT_GE(p50, 50.0);
  EXPECT_LE(p50, 50.0 * 1.022);
  EXPECT_GE(p99, 99.0);
  EXPECT_LE(p99, 99.0 * 1.022);
}

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile_ms(99), 0.0);
}

TEST(RunStats, DropsAreCountedByReason) {
  RunStats s;
  s.count_drop(DropReason::kError);
  s.count_drop(DropReason::kError);
  s.count_drop(DropReason::kWorkerCrash);
  EXPECT_EQ(s.dropped_total(), 3u);
  EXPECT_EQ(s.dropped[static_cast<std::size_t>(DropReason::kError)].load(), 2u);
  EXPECT_STREQ(drop_reason_name(DropReason::kWorkerCrash), "worker_crash");
}

}  // namespace
}  // namespace cvpipe
