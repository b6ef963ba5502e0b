#include "pipeline/runtime/capture.hpp"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/core/clock.hpp"

namespace cvpipe {
namespace {

using namespace std::chrono_literals;

const FrameFormat kFormat{32, 24, CV_8UC3};
constexpr std::uint32_t kSlots = 4;
constexpr auto kPatience = 5s;  // how long a test waits for what should take milliseconds

// Frame n is filled with this colour: its number in the first two channels.
cv::Scalar colour_of(std::int64_t n) { return cv::Scalar(static_cast<double>(n & 255), static_cast<double>((n >> 8) & 255), 77); }

// The number of the frame in `m`, or -1 when `m` is not one of the source's frames.
std::int64_t frame_number(const cv::Mat& m) {
  const cv::Vec3b p = m.at<cv::Vec3b>(0, 0);
  const std::int64_t n = p[0] + 256 * p[1];
  if (p[2] != 77 || cv::norm(m, cv::Mat(m.size(), m.type(), colour_of(n)), cv::NORM_INF) != 0) return -1;
  return n;
}

// A source of `frames` frames (or endless), whose pixels encode their number. Capture thread only,
// but for the counters and flags.
class CountingSource final : public Source {
 public:
  std::int64_t frames = -1;           // -1: never ends
  std::int64_t fail_at = -1;          // the read that fails with kError; -1: none
  std::int64_t capture_ns = 0;        // set: frame n was captured at capture_ns + n
  std::function<void(std::int64_t read)> before_read;  // called with the number of each read
  std::atomic<std::int64_t> frames_read{0};
  std::atomic<bool> interrupted{false};  // noted, not obeyed: the capture's own stop must end a run
  std::atomic<bool> end_now{false};      // the test's way out of a run that would not end

  FrameFormat format() const override { return kFormat; }
  double fps() const override { return 25; }
  Read read(cv::Mat& into, FrameMeta& meta, std::string& error) override {
    const std::int64_t n = next_++;
    if (before_read) before_read(n);
    if (end_now) return Read::kEnd;
    if (n == fail_at) {
      error = "decoder error at frame " + std::to_string(n);
      return Read::kError;
    }
    if (frames >= 0 && n >= frames) return Read::kEnd;
    into.setTo(colour_of(n));
    meta.pts_us = n * 40'000;
    if (capture_ns) meta.capture_ns = capture_ns + n;
    ++frames_read;
    return Read::kFrame;
  }
  void interrupt() noexcept override { interrupted = true; }

 private:
  std::int64_t next_ = 0;
};

// A frame as it was handed to the pipeline.
struct Entered {
  std::uint32_t slot;
  std::uint64_t seq, order;
  std::int64_t frame;  // from its pixels
  std::int64_t capture_ns;
  std::uint32_t opencv_threads;
};

// The capture's surroundings: a real segment and free-slot queue, and hooks that play the
// pipeline (record each frame handed over and, unless told to keep them, give its slot back).
class Rig {
 public:
  explicit Rig(bool first_slot_taken = false) : segment_(Segment::create(sizes())), order_(kSlots, 0) {
    for (std::uint32_t i = 0; i < kSlots; ++i)
      if (!first_slot_taken || i != Capture::kFirstFrameSlot) free_slots_.enqueue(i);
  }

  std::unique_ptr<Capture> make(Capture::Options options, Source& source) {
    options.format = kFormat;
    options.description = "counting source";
    Capture::Hooks hooks;
    hooks.hand_over = [this](std::uint32_t slot) {
      const SlotHeader& h = segment_.slot(slot);
      const cv::Mat frame(h.height, h.width, h.type, segment_.buffer(slot, h.buffer));
      const std::lock_guard lock(mutex_);
      entered_.push_back({slot, h.meta.seq, order_[slot], frame_number(frame), h.meta.capture_ns, h.opencv_threads});
      if (give_back) free_slots_.enqueue(slot);
      else kept_.push_back(slot);
    };
    hooks.input_failed = [this](const std::string& error) {
      const std::lock_guard lock(mutex_);
      input_errors_.push_back(error);
    };
    hooks.done = [this] {
      const std::lock_guard lock(mutex_);
      ++done_calls_;
      std::uint64_t entered = 0;
      if (capture_->finished(entered)) finished_at_done_ = entered;
    };
    auto capture = std::make_unique<Capture>(options, source, segment_, free_slots_, order_, first_out_, stats_,
                                             std::move(hooks));
    capture_ = capture.get();
    return capture;
  }

  // Gives back one slot the pipeline kept (as the writer does once it is done with a frame).
  void free_one_kept() {
    const std::lock_guard lock(mutex_);
    ASSERT_FALSE(kept_.empty());
    free_slots_.enqueue(kept_.front());
    kept_.erase(kept_.begin());
  }

  std::vector<Entered> entered() {
    const std::lock_guard lock(mutex_);
    return entered_;
  }
  std::vector<std::int64_t> frames_entered() {
    std::vector<std::int64_t> frames;
    for (const Entered& e : entered()) frames.push_back(e.frame);
    return frames;
  }
  std::vector<std::string> input_errors() {
    const std::lock_guard lock(mutex_);
    return input_errors_;
  }
  int done_calls() {
    const std::lock_guard lock(mutex_);
    return done_calls_;
  }
  std::optional<std::uint64_t> finished_at_done() {
    const std::lock_guard lock(mutex_);
    return finished_at_done_;
  }
  std::uint64_t dropped(DropReason r) const { return stats_.dropped[static_cast<std::size_t>(r)].load(); }
  std::uint64_t read() const { return stats_.read.load(); }
  std::int64_t last_read_ns() const { return stats_.last_read_ns.load(); }
  std::size_t free_slots() const { return free_slots_.size_approx(); }
  Segment& segment() { return segment_; }
  FirstFrameOut& first_out() { return first_out_; }
  void unstick() {
    for (std::uint32_t i = 0; i < kSlots; ++i) free_slots_.enqueue(i);
    first_out_.set();
  }

  bool give_back = true;

 private:
  static SegmentSizes sizes() {
    SegmentSizes s;
    s.slots = kSlots;
    s.buffers_per_slot = 1;
    s.frame_bytes = kFormat.bytes();
    s.worker_capacity = 1;
    return s;
  }

  Segment segment_;
  SlotQueue free_slots_;
  SlotOrder order_;
  FirstFrameOut first_out_;
  RunStats stats_;
  Capture* capture_ = nullptr;  // owned by the test
  std::mutex mutex_;
  std::vector<Entered> entered_;
  std::vector<std::uint32_t> kept_;
  std::vector<std::string> input_errors_;
  int done_calls_ = 0;
  std::optional<std::uint64_t> finished_at_done_;
};

// Capture::run() on its own thread, as in the daemon. A run that has not ended when the test is
// over fails it, and is then made to end (stop, the source ended, slots freed) so the thread joins.
class Running {
 public:
  Running(Capture& capture, CountingSource& source, Rig& rig) : capture_(capture), source_(source), rig_(rig) {
    std::packaged_task<void()> task([&capture] { capture.run(); });
    ended_ = task.get_future();
    thread_ = std::thread(std::move(task));
  }
  ~Running() {
    if (!ended()) {
      ADD_FAILURE() << "Capture::run() did not return within " << kPatience.count() << " s";
      capture_.stop();
      source_.end_now = true;
      rig_.unstick();
    }
    thread_.join();
  }
  // Whether run() returned within kPatience.
  bool ended() { return ended_.wait_for(kPatience) == std::future_status::ready; }

 private:
  Capture& capture_;
  CountingSource& source_;
  Rig& rig_;
  std::future<void> ended_;
  std::thread thread_;
};

// Waits up to kPatience for `condition`, polling every millisecond.
bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Runs a capture to its end on its own thread; false (a test failure) if it did not end in time.
bool run_to_end(Capture& capture, CountingSource& source, Rig& rig) {
  Running running(capture, source, rig);
  return running.ended();
}

Capture::Options options(DropPolicy policy, bool hold_back_until_first_out = false, std::uint32_t first_frame_threads = 0) {
  Capture::Options o;
  o.policy = policy;
  o.hold_back_until_first_out = hold_back_until_first_out;
  o.first_frame_threads = first_frame_threads;
  return o;
}

std::vector<std::int64_t> numbers(std::initializer_list<std::int64_t> values) { return values; }

std::vector<std::int64_t> zero_to(std::int64_t n) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < n; ++i) v.push_back(i);
  return v;
}

TEST(Capture, BlockEntersEveryFrameOnceInOrder) {
  Rig rig;
  CountingSource source;
  source.frames = 10;
  auto capture = rig.make({}, source);
  std::uint64_t entered = 0;
  EXPECT_FALSE(capture->finished(entered));
  const std::int64_t before = monotonic_ns();
  ASSERT_TRUE(run_to_end(*capture, source, rig));
  const std::int64_t after = monotonic_ns();

  const std::vector<Entered> frames = rig.entered();
  EXPECT_EQ(rig.frames_entered(), zero_to(10));
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].seq, i);
    EXPECT_EQ(frames[i].order, i);
    EXPECT_LT(frames[i].slot, kSlots);
    // The source has no capture time: the frame is stamped when read.
    EXPECT_GE(frames[i].capture_ns, before);
    EXPECT_LE(frames[i].capture_ns, after);
  }
  EXPECT_EQ(rig.read(), 10u);
  EXPECT_GE(rig.last_read_ns(), before);
  EXPECT_LE(rig.last_read_ns(), after);
  EXPECT_EQ(rig.done_calls(), 1);
  EXPECT_EQ(rig.finished_at_done(), 10u);  // finished() already true when done() runs
  ASSERT_TRUE(capture->finished(entered));
  EXPECT_EQ(entered, 10u);
  EXPECT_TRUE(rig.input_errors().empty());
  EXPECT_EQ(rig.free_slots(), kSlots);  // the slot taken for the read that found the end is back
}

TEST(Capture, KeepsTheCaptureTimeOfASourceThatHasOne) {
  Rig rig;
  CountingSource source;
  source.frames = 3;
  source.capture_ns = 123'456'789;
  auto capture = rig.make({}, source);
  ASSERT_TRUE(run_to_end(*capture, source, rig));
  const std::vector<Entered> frames = rig.entered();
  ASSERT_EQ(frames.size(), 3u);
  for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(frames[i].capture_ns, 123'456'789 + static_cast<std::int64_t>(i));
}

TEST(Capture, ReadFirstFrameFillsSlotZeroAndRunHandsItOverFirst) {
  Rig rig(/*first_slot_taken=*/true);
  CountingSource source;
  source.frames = 6;
  auto capture = rig.make({}, source);
  capture->read_first_frame();
  EXPECT_TRUE(capture->has_first_frame());
  EXPECT_EQ(rig.read(), 1u);
  EXPECT_TRUE(rig.entered().empty());  // read, not yet handed over
  EXPECT_EQ(frame_number(cv::Mat(kFormat.height, kFormat.width, kFormat.type,
                                 rig.segment().buffer(Capture::kFirstFrameSlot, 0))),
            0);

  ASSERT_TRUE(run_to_end(*capture, source, rig));
  const std::vector<Entered> frames = rig.entered();
  ASSERT_EQ(frames.size(), 6u);
  EXPECT_EQ(frames[0].slot, Capture::kFirstFrameSlot);
  EXPECT_EQ(frames[0].seq, 0u);
  EXPECT_EQ(frames[0].order, 0u);
  EXPECT_EQ(frames[0].opencv_threads, 0u);  // not held back: the stages' own threads
  EXPECT_EQ(rig.frames_entered(), zero_to(6));
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].seq, i);
    EXPECT_EQ(frames[i].order, i);
  }
  EXPECT_EQ(rig.read(), 6u);
  EXPECT_EQ(source.frames_read.load(), 6);  // frame 0 read once
}

TEST(Capture, ReadFirstFrameThrowsInputErrorWhenTheSourceHasNone) {
  {
    Rig rig(true);
    CountingSource source;
    source.frames = 0;
    auto capture = rig.make({}, source);
    try {
      capture->read_first_frame();
      FAIL() << "an empty source gave a first frame";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("counting source"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(capture->has_first_frame());
  }
  {
    Rig rig(true);
    CountingSource source;
    source.fail_at = 0;
    auto capture = rig.make({}, source);
    try {
      capture->read_first_frame();
      FAIL() << "a broken source gave a first frame";
    } catch (const InputError& e) {
      EXPECT_STREQ(e.what(), "decoder error at frame 0");
    }
    EXPECT_FALSE(capture->has_first_frame());
    EXPECT_EQ(rig.read(), 0u);
  }
}

TEST(Capture, AnInputErrorEndsTheRunAfterTheFramesBeforeIt) {
  Rig rig;
  CountingSource source;
  source.frames = 10;
  source.fail_at = 3;
  auto capture = rig.make({}, source);
  ASSERT_TRUE(run_to_end(*capture, source, rig));
  EXPECT_EQ(rig.frames_entered(), zero_to(3));
  EXPECT_EQ(rig.input_errors(), std::vector<std::string>{"decoder error at frame 3"});
  EXPECT_EQ(rig.done_calls(), 1);
  std::uint64_t entered = 0;
  ASSERT_TRUE(capture->finished(entered));
  EXPECT_EQ(entered, 3u);
  EXPECT_EQ(rig.read(), 3u);
  EXPECT_EQ(rig.free_slots(), kSlots);
}

TEST(Capture, DropNewestDropsNothingWhileSlotsAreFree) {
  Rig rig;
  CountingSource source;
  source.frames = 10;
  auto capture = rig.make(options(DropPolicy::kDropNewest), source);
  ASSERT_TRUE(run_to_end(*capture, source, rig));
  EXPECT_EQ(rig.frames_entered(), zero_to(10));
  EXPECT_EQ(rig.dropped(DropReason::kQueueFull), 0u);
}

TEST(Capture, DropNewestCountsTheFramesWithNoFreeSlotAndStillEnds) {
  Rig rig;
  rig.give_back = false;  // the pipeline holds every slot
  CountingSource source;
  source.frames = 10;
  auto capture = rig.make(options(DropPolicy::kDropNewest), source);
  ASSERT_TRUE(run_to_end(*capture, source, rig));
  EXPECT_EQ(rig.frames_entered(), zero_to(kSlots));
  EXPECT_EQ(rig.dropped(DropReason::kQueueFull), 10u - kSlots);
  EXPECT_EQ(rig.read(), 10u);
  EXPECT_EQ(rig.done_calls(), 1);
  std::uint64_t entered = 0;
  ASSERT_TRUE(capture->finished(entered));
  EXPECT_EQ(rig.read(), entered + rig.dropped(DropReason::kQueueFull));
}

TEST(Capture, DropOldestPutsInTheNewestFrameWhenASlotFrees) {
  Rig rig;
  rig.give_back = false;
  CountingSource source;
  source.frames = 10;
  // The pipeline frees a slot while frame 7 is read, and another when the source has ended.
  source.before_read = [&rig](std::int64_t n) {
    if (n == 7 || n == 10) rig.free_one_kept();
  };
  auto capture = rig.make(options(DropPolicy::kDropOldest), source);
  ASSERT_TRUE(run_to_end(*capture, source, rig));
  // 0-3 fill the slots; 4-7 wait in turn, each newer one dropping the one before, until 7 goes
  // into the freed slot; then 8 and 9 wait, and 9 goes in at the end.
  EXPECT_EQ(rig.frames_entered(), numbers({0, 1, 2, 3, 7, 9}));
  const std::vector<Entered> frames = rig.entered();
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].order, i);
    EXPECT_EQ(static_cast<std::int64_t>(frames[i].seq), frames[i].frame);  // numbered as read
  }
  EXPECT_EQ(rig.dropped(DropReason::kQueueFull), 4u);  // 4, 5, 6 and 8
  EXPECT_EQ(rig.read(), 10u);
  std::uint64_t entered = 0;
  ASSERT_TRUE(capture->finished(entered));
  EXPECT_EQ(entered, 6u);
  EXPECT_EQ(rig.read(), entered + rig.dropped(DropReason::kQueueFull));
  EXPECT_EQ(rig.done_calls(), 1);
}

TEST(Capture, StopEndsARunWhoseSourceNeverEnds) {
  Rig rig;
  CountingSource source;  // endless, and deaf to interrupt()
  // The source pauses in its read of frame 20 until the test has called stop().
  std::atomic<bool> paused{false}, stopped{false};
  source.before_read = [&](std::int64_t n) {
    if (n != 20) return;
    paused = true;
    eventually([&] { return stopped.load(); });
  };
  auto capture = rig.make({}, source);
  {
    Running running(*capture, source, rig);
    ASSERT_TRUE(eventually([&] { return paused.load(); }));
    capture->stop();
    stopped = true;
    EXPECT_TRUE(running.ended());
  }
  EXPECT_TRUE(source.interrupted.load());
  EXPECT_EQ(rig.done_calls(), 1);
  std::uint64_t entered = 0;
  ASSERT_TRUE(capture->finished(entered));
  EXPECT_EQ(entered, 21u);  // the frame being read when it stopped goes in; no read after it
  EXPECT_EQ(rig.frames_entered(), zero_to(21));
  EXPECT_EQ(rig.read(), 21u);
}

TEST(Capture, HoldsBackUntilTheFirstFrameIsOut) {
  Rig rig(/*first_slot_taken=*/true);
  CountingSource source;
  source.frames = 5;
  auto capture = rig.make(options(DropPolicy::kBlock, /*hold_back_until_first_out=*/true, /*first_frame_threads=*/3), source);
  capture->read_first_frame();
  {
    Running running(*capture, source, rig);
    ASSERT_TRUE(eventually([&] { return !rig.entered().empty(); }));
    // Longer than two of the capture's 100 ms waits for the first frame to be out.
    std::this_thread::sleep_for(250ms);
    const std::vector<Entered> first = rig.entered();
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].slot, Capture::kFirstFrameSlot);
    EXPECT_EQ(first[0].frame, 0);
    EXPECT_EQ(first[0].opencv_threads, 3u);  // alone in the pipeline: every core
    EXPECT_EQ(source.frames_read.load(), 1);
    rig.first_out().set();
    EXPECT_TRUE(running.ended());
  }
  EXPECT_EQ(rig.frames_entered(), zero_to(5));
  for (const Entered& e : rig.entered()) {
    if (e.frame != 0) {
      EXPECT_EQ(e.opencv_threads, 0u) << "frame " << e.frame;
    }
  }
}

}  // namespace
}  // namespace cvpipe
