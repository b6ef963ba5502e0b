#include "pipeline/core/logging.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace cvpipe {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSecond = 1000 * kMs;

TEST(RateLimitedLog, AdmitsTheFirstEventWithNothingSuppressed) {
  for (const std::int64_t first : {std::int64_t{0}, 5 * kSecond, -3 * kSecond}) {
    RateLimitedLog log;
    std::uint64_t suppressed = 99;
    EXPECT_TRUE(log.admit(first, suppressed)) << "first event at " << first;
    EXPECT_EQ(suppressed, 0u);
  }
}

TEST(RateLimitedLog, HoldsBackEventsWithinASecondAndCountsThem) {
  RateLimitedLog log;
  std::uint64_t suppressed = 0;
  ASSERT_TRUE(log.admit(10 * kSecond, suppressed));
  EXPECT_FALSE(log.admit(10 * kSecond, suppressed));
  EXPECT_FALSE(log.admit(10 * kSecond + 500 * kMs, suppressed));
  EXPECT_FALSE(log.admit(11 * kSecond - 1, suppressed));
  EXPECT_TRUE(log.admit(11 * kSecond, suppressed));
  EXPECT_EQ(suppressed, 3u);
}

TEST(RateLimitedLog, ResetsTheCountOnceItIsReported) {
  RateLimitedLog log;
  std::uint64_t suppressed = 0;
  ASSERT_TRUE(log.admit(0, suppressed));
  EXPECT_FALSE(log.admit(100 * kMs, suppressed));
  EXPECT_FALSE(log.admit(200 * kMs, suppressed));
  ASSERT_TRUE(log.admit(1500 * kMs, suppressed));
  EXPECT_EQ(suppressed, 2u);
  EXPECT_FALSE(log.admit(1600 * kMs, suppressed));
  ASSERT_TRUE(log.admit(2600 * kMs, suppressed));
  EXPECT_EQ(suppressed, 1u);
  ASSERT_TRUE(log.admit(9 * kSecond, suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(RateLimitedLog, CountsTheSecondFromTheLastEventLogged) {
  // An event every half second: every other one is logged, each with one held back.
  RateLimitedLog log;
  std::uint64_t suppressed = 0;
  ASSERT_TRUE(log.admit(0, suppressed));
  for (int i = 1; i <= 8; ++i) {
    const bool admitted = log.admit(i * 500 * kMs, suppressed);
    EXPECT_EQ(admitted, i % 2 == 0) << "event " << i;
    if (admitted) {
      EXPECT_EQ(suppressed, 1u) << "event " << i;
    }
  }
}

}  // namespace
}  // namespace cvpipe
