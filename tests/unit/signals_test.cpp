#include "pipeline/runtime/signals.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace cvpipe {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kStart = 50'000 * kMs;  // some monotonic time

using Action = StopRequests::Action;

const SignalEvent kTermFromTimeout{SIGTERM, SI_USER, 4242};

TEST(StopRequests, TheFirstSignalDrains) {
  for (const SignalEvent& e : {kTermFromTimeout, SignalEvent{SIGINT, SI_KERNEL, 0}}) {
    StopRequests stops;
    EXPECT_EQ(stops.on_stop_signal(e, kStart), Action::kDrain) << "signal " << e.sig;
  }
}

TEST(StopRequests, TheSameSignalFromTheSameSenderWithin100MsIsARepeat) {
  StopRequests stops;
  ASSERT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart), Action::kDrain);
  EXPECT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart), Action::kRepeat);
  EXPECT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart + 40 * kMs), Action::kRepeat);
  EXPECT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart + 100 * kMs - 1), Action::kRepeat);
  // Repeats are not requests of their own: the next one after 100 ms is the second.
  EXPECT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart + 100 * kMs), Action::kStopNow);
}

TEST(StopRequests, TheSameSignalAfter100MsStopsNow) {
  StopRequests stops;
  ASSERT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart), Action::kDrain);
  EXPECT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart + 2000 * kMs), Action::kStopNow);
}

TEST(StopRequests, ASignalThatDiffersInSignalSenderOrCodeStopsNowAtOnce) {
  const SignalEvent others[] = {
      {SIGTERM, SI_USER, 4243},    // another sender
      {SIGINT, SI_USER, 4242},     // another signal
      {SIGTERM, SI_QUEUE, 4242},   // another way of sending it
  };
  for (const SignalEvent& other : others) {
    StopRequests stops;
    ASSERT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart), Action::kDrain);
    EXPECT_EQ(stops.on_stop_signal(other, kStart + 1 * kMs), Action::kStopNow)
        << "sig " << other.sig << " code " << other.code << " pid " << other.pid;
  }
}

TEST(StopRequests, AThirdSignalAlsoStopsNow) {
  StopRequests stops;
  ASSERT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart), Action::kDrain);
  ASSERT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart + 500 * kMs), Action::kStopNow);
  EXPECT_EQ(stops.on_stop_signal(kTermFromTimeout, kStart + 1000 * kMs), Action::kStopNow);
  EXPECT_EQ(stops.on_stop_signal(SignalEvent{SIGINT, SI_KERNEL, 0}, kStart + 1001 * kMs), Action::kStopNow);
}

}  // namespace
}  // namespace cvpipe
