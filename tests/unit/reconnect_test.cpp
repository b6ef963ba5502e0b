// Reconnecting live sources: the backoff schedule, the timestamps of live frames, and
// ReconnectingSource around real file sources (a clip that ends is a stream that closes; a deleted
// clip is a camera that does not come back).
#include "pipeline/modules/io/reconnecting_source.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/core/errors.hpp"

namespace cvpipe {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- reconnect_delay ----------------------------------------------------------------------------

TEST(ReconnectDelay, DoublesFromTheFirstDelay) {
  const ReconnectPolicy p{0.5, 30, 0};
  EXPECT_DOUBLE_EQ(reconnect_delay(p, 1, 0.0), 0.5);
  EXPECT_DOUBLE_EQ(reconnect_delay(p, 2, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(reconnect_delay(p, 3, 0.0), 2.0);
  EXPECT_DOUBLE_EQ(reconnect_delay(p, 6, 0.0), 16.0);
}

TEST(ReconnectDelay, StopsGrowingAtMaxDelay) {
  const ReconnectPolicy p{0.5, 30, 0};
  EXPECT_DOUBLE_EQ(reconnect_delay(p, 7, 0.0), 30.0);  // 32 capped
  EXPECT_DOUBLE_EQ(reconnect_delay(p, 100, 0.0), 30.0);
  EXPECT_DOUBLE_EQ(reconnect_delay(p, 1'000'000'000, 0.0), 30.0);  // no overflow
  EXPECT_DOUBLE_EQ(reconnect_delay(ReconnectPolicy{2, 2, 0}, 5, 0.0), 2.0);
}

TEST(ReconnectDelay, JitterOnlyShortensAndStaysWithinItsShare) {
  const ReconnectPolicy p{0.5, 30, 0};
  for (std::int64_t attempt : {1, 2, 5, 7, 50}) {
    const double nominal = reconnect_delay(p, attempt, 0.0);
    for (double unit : {0.0, 0.1, 0.5, 0.9, 0.999999}) {
      const double d = reconnect_delay(p, attempt, unit);
      EXPECT_LE(d, nominal) << "attempt " << attempt << " unit " << unit;
      EXPECT_GE(d, nominal * (1 - kReconnectJitter)) << "attempt " << attempt << " unit " << unit;
      EXPECT_LE(d, p.max_delay_s);
    }
  }
  // The draw decides where in the band a wait falls.
  EXPECT_DOUBLE_EQ(reconnect_delay(p, 3, 1.0), 2.0 * (1 - kReconnectJitter));
  EXPECT_LT(reconnect_delay(p, 3, 0.6), reconnect_delay(p, 3, 0.2));
}

// ---- LiveClock ----------------------------------------------------------------------------------

TEST(LiveClock, UsesTheBackendsTimestampsFromTheFirstFrame) {
  LiveClock clock;
  EXPECT_EQ(clock.pts_us(5000.0), 0);
  EXPECT_EQ(clock.pts_us(5040.0), 40'000);
  EXPECT_EQ(clock.pts_us(5080.5), 80'500);
}

TEST(LiveClock, FallsBackToTheClockWhenTimestampsAreUnusable) {
  LiveClock clock;
  // What OpenCV reports for an MJPEG-over-HTTP stream, which carries no timestamps.
  EXPECT_EQ(clock.pts_us(-3.68935e20), 0);
  std::this_thread::sleep_for(20ms);
  const std::int64_t later = clock.pts_us(-3.68935e20);
  EXPECT_GE(later, 20'000);
  EXPECT_LT(later, 2'000'000);
  EXPECT_GT(clock.pts_us(NAN), later);
}

TEST(LiveClock, StaysStrictlyIncreasingWhenTimestampsRepeatOrGoBack) {
  LiveClock clock;
  std::int64_t last = clock.pts_us(1000.0);
  for (double ms : {1000.0, 1040.0, 1040.0, 900.0, 1100.0}) {
    const std::int64_t us = clock.pts_us(ms);
    EXPECT_GT(us, last) << ms;
    last = us;
  }
}

TEST(LiveClock, TimestampsThatRunSlowerThanTheClockGiveWayToIt) {
  // A stream that says 25 fps (40 ms a frame) and sends a frame every 100 ms.
  LiveClock clock(50'000);
  const auto start = std::chrono::steady_clock::now();
  std::int64_t us = clock.pts_us(0.0);
  for (int i = 1; i <= 10; ++i) {
    std::this_thread::sleep_for(10ms);
    us = clock.pts_us(i * 4.0);
  }
  const auto wall_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  // The last frame is at the wall clock's time since the first, not at the stream's 40 ms.
  EXPECT_GT(us, wall_us - 20'000);
  EXPECT_LE(us, wall_us);
}

// ---- ReconnectingSource around real sources -----------------------------------------------------

class ReconnectingSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cvpipe-reconnect-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A lossless clip of `frames` frames, each a flat colour that says its index.
  std::string make_clip(const std::string& name, cv::Size size, int frames) {
    const std::string path = dir_ + "/" + name;
    cv::VideoWriter writer(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 25, size);
    EXPECT_TRUE(writer.isOpened()) << path;
    for (int i = 0; i < frames; ++i) {
      cv::Mat frame(size, CV_8UC3, cv::Scalar(10 * i, 255 - 10 * i, 100));
      cv::rectangle(frame, cv::Rect(2, 2, size.width / 3, size.height / 3), cv::Scalar(255, 255, 255), cv::FILLED);
      writer.write(frame);
    }
    return path;
  }

  // What a config's `source: {type: file, path: ...}` opens (the file must exist now, as when a
  // config is loaded; it may be gone when the opener runs).
  static ReconnectingSource::Opener file_opener(const std::string& path) {
    PipelineConfig c = parse_config_text("source: {type: file, path: " + path +
                                             "}\nstages: [{name: s, ops: [{op: identity}]}]\nsink: {type: null}\n",
                                         "t.yaml", "", {});
    return [open = c.source.open] { return open(SourceLimits{}); };
  }

  std::string dir_;
};

TEST_F(ReconnectingSourceTest, OpensTheInnerSourceOnceAndPassesItsOpenErrorOn) {
  int opened = 0;
  const std::string clip = make_clip("a.mkv", {64, 48}, 3);
  const auto open = file_opener(clip);
  ReconnectingSource source("test", [&] { ++opened; return open(); }, ReconnectPolicy{});
  EXPECT_EQ(opened, 1);
  EXPECT_EQ(source.format(), (FrameFormat{64, 48, CV_8UC3}));
  EXPECT_EQ(source.frame_count(), -1);

  auto gone = file_opener(clip);
  std::filesystem::remove(clip);
  EXPECT_THROW(ReconnectingSource("test", gone, ReconnectPolicy{}), InputError);
}

TEST_F(ReconnectingSourceTest, ReopensASourceThatEndedAndKeepsMediaTimeIncreasing) {
  const std::string clip = make_clip("a.mkv", {64, 48}, 4);
  int opened = 0;
  const auto open = file_opener(clip);
  ReconnectingSource source("test", [&] { ++opened; return open(); }, ReconnectPolicy{0.01, 0.02, 0});

  cv::Mat into(48, 64, CV_8UC3);
  const uchar* const slot = into.data;
  std::int64_t last_pts = -1;
  for (int i = 0; i < 10; ++i) {
    FrameMeta meta;
    std::string error;
    ASSERT_EQ(source.read(into, meta, error), Source::Read::kFrame) << "frame " << i << ": " << error;
    EXPECT_EQ(into.data, slot) << "decoded into the memory it was given";
    EXPECT_GT(meta.pts_us, last_pts) << "frame " << i;
    last_pts = meta.pts_us;
  }
  EXPECT_EQ(opened, 3);  // 4 + 4 + 2 frames
}

TEST_F(ReconnectingSourceTest, GivesUpAfterTheAttemptsAndSaysSo) {
  const std::string clip = make_clip("a.mkv", {64, 48}, 2);
  ReconnectingSource source("test clip", file_opener(clip), ReconnectPolicy{0.01, 0.05, 3});
  std::filesystem::remove(clip);

  cv::Mat into(48, 64, CV_8UC3);
  FrameMeta meta;
  std::string error;
  EXPECT_EQ(source.read(into, meta, error), Source::Read::kFrame);
  EXPECT_EQ(source.read(into, meta, error), Source::Read::kFrame);
  const auto started = Clock::now();
  EXPECT_EQ(source.read(into, meta, error), Source::Read::kError);
  EXPECT_LT(Clock::now() - started, 5s);
  EXPECT_NE(error.find("test clip: gave up reconnecting after 3 attempts"), std::string::npos) << error;
  EXPECT_NE(error.find("cannot open video file " + clip + ": no such file"), std::string::npos) << "says what the last attempt met: " << error;
  // And stays given up.
  std::string again;
  EXPECT_EQ(source.read(into, meta, again), Source::Read::kError);
  EXPECT_EQ(again, error);
}

TEST_F(ReconnectingSourceTest, InterruptEndsAWaitAtOnce) {
  const std::string clip = make_clip("a.mkv", {64, 48}, 1);
  ReconnectingSource source("test", file_opener(clip), ReconnectPolicy{60, 60, 0});
  cv::Mat into(48, 64, CV_8UC3);
  FrameMeta meta;
  std::string error;
  ASSERT_EQ(source.read(into, meta, error), Source::Read::kFrame);

  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    source.interrupt();
  });
  const auto started = Clock::now();
  const Source::Read r = source.read(into, meta, error);  // waits ~60 s for its first attempt
  const auto took = Clock::now() - started;
  stopper.join();
  EXPECT_EQ(r, Source::Read::kEnd) << error;
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(source.read(into, meta, error), Source::Read::kEnd);
}

TEST_F(ReconnectingSourceTest, ConvertsAReconnectedSourceOfAnotherSizeIntoTheFirstOnesFormat) {
  const std::string first = make_clip("first.mkv", {64, 48}, 2);
  const std::string second = make_clip("second.mkv", {32, 24}, 3);
  int opened = 0;
  const auto open_first = file_opener(first), open_second = file_opener(second);
  ReconnectingSource source(
      "test", [&] { return (opened++ == 0 ? open_first : open_second)(); }, ReconnectPolicy{0.01, 0.01, 0});
  ASSERT_EQ(source.format(), (FrameFormat{64, 48, CV_8UC3}));

  cv::Mat into(48, 64, CV_8UC3);
  const uchar* const slot = into.data;
  FrameMeta meta;
  std::string error;
  for (int i = 0; i < 2; ++i) ASSERT_EQ(source.read(into, meta, error), Source::Read::kFrame) << error;
  ASSERT_EQ(source.read(into, meta, error), Source::Read::kFrame) << error;
  EXPECT_EQ(opened, 2);
  EXPECT_EQ(into.data, slot);
  EXPECT_EQ(into.size(), cv::Size(64, 48));

  cv::VideoCapture cap(second, cv::CAP_FFMPEG);
  cv::Mat small, expected;
  ASSERT_TRUE(cap.read(small));
  cv::resize(small, expected, cv::Size(64, 48), 0, 0, cv::INTER_LINEAR);
  EXPECT_EQ(cv::norm(into, expected, cv::NORM_INF), 0);
}

TEST_F(ReconnectingSourceTest, RefusesAReconnectedSourceWhoseFramesNoLongerFitTheMemoryLeft) {
  const std::string first = make_clip("first.mkv", {32, 24}, 1);
  const std::string bigger = make_clip("bigger.mkv", {320, 240}, 2);
  int opened = 0;
  const auto open_first = file_opener(first), open_bigger = file_opener(bigger);
  ReconnectingSource source(
      "test", [&] { return (opened++ == 0 ? open_first : open_bigger)(); }, ReconnectPolicy{0.01, 0.01, 0});
  // The pipeline holds 100 KB of a 300 KB budget: two 320x240 buffers (460 KB) do not fit.
  source.reserve_memory(100'000, 300'000);
  cv::Mat into(24, 32, CV_8UC3);
  FrameMeta meta;
  std::string error;
  ASSERT_EQ(source.read(into, meta, error), Source::Read::kFrame) << error;
  EXPECT_EQ(source.read(into, meta, error), Source::Read::kError);
  EXPECT_EQ(opened, 2);
  EXPECT_NE(error.find("it came back with 320x240"), std::string::npos) << error;
  EXPECT_NE(error.find("do not fit in the memory left"), std::string::npos) << error;
}

}  // namespace
}  // namespace cvpipe
