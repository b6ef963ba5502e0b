// The file source with loop: true: the clip again from its first frame, forever, with media time
// that keeps increasing.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/runtime/source.hpp"

namespace cvpipe {
namespace {

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cvpipe-file-source-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    clip_ = dir_ + "/clip.mkv";
    cv::VideoWriter writer(clip_, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 25, cv::Size(48, 32));
    ASSERT_TRUE(writer.isOpened());
    for (int i = 0; i < kFrames; ++i) writer.write(cv::Mat(32, 48, CV_8UC3, cv::Scalar(20 * i, 100, 200 - 20 * i)));
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<Source> open(const std::string& extra) {
    PipelineConfig c = parse_config_text("source:\n  type: file\n  path: " + clip_ + "\n" + extra +
                                             "stages: [{name: s, ops: [{op: identity}]}]\nsink: {type: null}\n",
                                         "t.yaml", "", {});
    return c.source.open(c.source_limits);
  }

  static constexpr int kFrames = 5;
  std::string dir_, clip_;
};

TEST_F(FileSourceTest, EndsAfterTheLastFrameByDefault) {
  auto source = open("");
  EXPECT_EQ(source->frame_count(), kFrames);
  cv::Mat into(32, 48, CV_8UC3);
  FrameMeta meta;
  std::string error;
  for (int i = 0; i < kFrames; ++i) {
    meta.seq = static_cast<std::uint64_t>(i);
    ASSERT_EQ(source->read(into, meta, error), Source::Read::kFrame) << i << ": " << error;
  }
  EXPECT_EQ(source->read(into, meta, error), Source::Read::kEnd) << error;
}

TEST_F(FileSourceTest, LoopStartsAgainWithIncreasingMediaTime) {
  auto source = open("  loop: true\n");
  EXPECT_EQ(source->frame_count(), -1) << "a looped file never ends";
  cv::Mat into(32, 48, CV_8UC3);
  const uchar* const slot = into.data;
  std::int64_t last_pts = -1;
  std::vector<std::int64_t> steps;
  for (int i = 0; i < 3 * kFrames + 2; ++i) {
    FrameMeta meta;
    meta.seq = static_cast<std::uint64_t>(i);
    std::string error;
    ASSERT_EQ(source->read(into, meta, error), Source::Read::kFrame) << "frame " << i << ": " << error;
    ASSERT_EQ(into.data, slot);
    // Frame i shows the clip's frame i % kFrames (FFV1 is lossless).
    EXPECT_EQ(into.at<cv::Vec3b>(5, 5), cv::Vec3b(static_cast<uchar>(20 * (i % kFrames)), 100,
                                                  static_cast<uchar>(200 - 20 * (i % kFrames))))
        << "frame " << i;
    EXPECT_GT(meta.pts_us, last_pts) << "frame " << i;
    if (last_pts >= 0) steps.push_back(meta.pts_us - last_pts);
    last_pts = meta.pts_us;
  }
  // One frame time (40 ms at 25 fps) between every two frames, across the loops too.
  for (std::size_t i = 0; i < steps.size(); ++i) EXPECT_NEAR(steps[i], 40'000, 1'000) << "step " << i;
}

// The frames drained from the decoder at the end of a file, the last two of an H.264 stream with
// B-frames (as OpenCV's own writer makes it), have their place in time, in one pass and across
// loops (OpenCV 4.6 reports media time 0 for them).
TEST_F(FileSourceTest, MediaTimeGoesOnThroughTheFramesDrainedAtTheEnd) {
  clip_ = dir_ + "/b-frames.mp4";
  constexpr int kClipFrames = 12;
  {
    cv::VideoWriter writer(clip_, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('a', 'v', 'c', '1'), 25, cv::Size(64, 48));
    ASSERT_TRUE(writer.isOpened());
    for (int i = 0; i < kClipFrames; ++i) writer.write(cv::Mat(48, 64, CV_8UC3, cv::Scalar(20 * i, 100, 200 - 10 * i)));
  }
  for (const std::string loop : {"", "  loop: true\n"}) {
    auto source = open(loop);
    cv::Mat into(48, 64, CV_8UC3);
    std::int64_t last_pts = -1;
    const int frames = loop.empty() ? kClipFrames : 3 * kClipFrames;
    for (int i = 0; i < frames; ++i) {
      FrameMeta meta;
      meta.seq = static_cast<std::uint64_t>(i);
      std::string error;
      ASSERT_EQ(source->read(into, meta, error), Source::Read::kFrame) << "frame " << i << ": " << error;
      if (last_pts >= 0) {
        EXPECT_NEAR(meta.pts_us - last_pts, 40'000, 1'000) << "frame " << i << " " << loop;
      }
      last_pts = meta.pts_us;
    }
    EXPECT_NEAR(last_pts, (frames - 1) * 40'000, 1'000) << loop;
  }
}

// The threads this process runs now, from /proc/self/task.
long thread_count() {
  long n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST_F(FileSourceTest, ThreadsSetsTheDecodersThreads) {
  // Whatever a first open and read starts for good (nothing, as it is) does not count below.
  cv::Mat into(32, 48, CV_8UC3);
  FrameMeta meta;
  std::string error;
  ASSERT_EQ(open("  threads: 1\n")->read(into, meta, error), Source::Read::kFrame) << error;
  const long before = thread_count();
  for (const int threads : {1, 3}) {
    auto source = open("  threads: " + std::to_string(threads) + "\n");
    for (int i = 0; i < kFrames; ++i)
      ASSERT_EQ(source->read(into, meta, error), Source::Read::kFrame) << threads << " threads, frame " << i << ": " << error;
    const long added = thread_count() - before;
    if (threads == 1) {
      EXPECT_EQ(added, 0) << "one thread: the caller's";
    } else {
      EXPECT_GE(added, 2) << "FFmpeg's threads beside the caller";
    }
  }
  // A joined thread leaves /proc/self/task a moment after pthread_join returns: up to 1 s.
  for (int i = 0; i < 100 && thread_count() != before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(thread_count(), before) << "the decoders' threads end with their source";
}

// The frame's index, from the colour the fixture gave it (blue = 20 * index).
int index_of(const cv::Mat& frame) { return static_cast<int>(std::lround(frame.at<cv::Vec3b>(16, 24)[0] / 20.0)); }

// Reads until the end (at most 50 frames): the indices read.
std::vector<int> read_all(Source& source) {
  std::vector<int> indices;
  cv::Mat into(32, 48, CV_8UC3);
  FrameMeta meta;
  std::string error;
  for (int i = 0; i < 50; ++i) {
    const Source::Read r = source.read(into, meta, error);
    EXPECT_NE(r, Source::Read::kError) << error;
    if (r != Source::Read::kFrame) break;
    indices.push_back(index_of(into));
  }
  return indices;
}

TEST_F(FileSourceTest, StartAndMaxFramesPickAWindowOfTheFile) {
  auto from_frame = open("  start_frame: 2\n");
  EXPECT_EQ(from_frame->frame_count(), kFrames - 2);
  EXPECT_EQ(read_all(*from_frame), (std::vector<int>{2, 3, 4}));
  auto from_time = open("  start: 0.08\n");  // 25 fps: frame 2 is at 0.08 s
  EXPECT_EQ(read_all(*from_time), (std::vector<int>{2, 3, 4}));
  auto first_two = open("  max_frames: 2\n");
  EXPECT_EQ(first_two->frame_count(), 2);
  EXPECT_EQ(read_all(*first_two), (std::vector<int>{0, 1}));
  auto by_time = open("  start_frame: 1\n  duration: 0.08\n");
  EXPECT_EQ(read_all(*by_time), (std::vector<int>{1, 2}));
  // Looping, each pass starts at the window's start; max_frames ends it.
  auto looped = open("  loop: true\n  start_frame: 3\n  max_frames: 5\n");
  EXPECT_EQ(looped->frame_count(), 5);
  EXPECT_EQ(read_all(*looped), (std::vector<int>{3, 4, 3, 4, 3}));
}

TEST_F(FileSourceTest, AStartPastTheEndOfALoopedFileIsAnErrorNotAHang) {
  auto source = open("  loop: true\n  start_frame: 9\n");
  cv::Mat into(32, 48, CV_8UC3);
  FrameMeta meta;
  std::string error;
  EXPECT_EQ(source->read(into, meta, error), Source::Read::kError);
  EXPECT_NE(error.find("each pass of the loop ends before its start (source.start_frame)"), std::string::npos) << error;
}

TEST_F(FileSourceTest, PaceRealtimeReadsNoFasterThanTheVideosClock) {
  PipelineConfig c = parse_config_text("source: {type: file, path: " + clip_ + ", pace: realtime, loop: true, max_frames: 13}\n"
                                       "stages: [{name: s, ops: [{op: identity}]}]\nsink: {type: null}\n",
                                       "t.yaml", "", {});
  EXPECT_TRUE(c.source.live) << "paced, it stands in for a camera";
  auto source = c.source.open(c.source_limits);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(read_all(*source).size(), 13u);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(seconds, 12 / 25.0 - 0.005) << "13 frames at 25 fps span 12 frame times";
  EXPECT_LT(seconds, 12 / 25.0 + 0.5);
}

TEST_F(FileSourceTest, PaceRealtimeStopsWaitingWhenInterrupted) {
  PipelineConfig c = parse_config_text("source: {type: file, path: " + clip_ + ", pace: realtime}\n"
                                       "stages: [{name: s, ops: [{op: identity}]}]\nsink: {type: null}\n",
                                       "t.yaml", "", {});
  auto source = c.source.open(c.source_limits);
  cv::Mat into(32, 48, CV_8UC3);
  FrameMeta meta;
  std::string error;
  ASSERT_EQ(source->read(into, meta, error), Source::Read::kFrame);
  source->interrupt();
  EXPECT_EQ(source->read(into, meta, error), Source::Read::kEnd);
}

}  // namespace
}  // namespace cvpipe
