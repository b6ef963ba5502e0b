// A live source faster than the pipeline: under every drop policy latency stays bounded and every
// frame read is either written or counted as dropped with its reason. On a file, `block` (the
// default) loses nothing however slow the workers are.
#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kFps = 100;
constexpr int kFrames = 150;  // 1.5 s at 100 fps
constexpr int kSleepMs = 20;  // the slow stage takes 50 fps: half the source's rate

// A paced synthetic source into one slow stage of one worker, `policy` at capture and at the stage.
std::string overload_config(const std::string& policy, const std::string& stage_extra = "",
                            const std::string& sink = "sink: {type: \"null\"}\n") {
  return "source: {type: synthetic, width: 160, height: 120, fps: " + std::to_string(kFps) +
         ", frames: " + std::to_string(kFrames) + ", pace: realtime, drop_policy: " + policy +
         // Under a drop policy capture never waits, so only a stalled test machine could make the
         // source's buffer overflow: give it 0.3 s of slack. Under block it must overflow.
         (policy == "block" ? "" : ", buffer: 30") + "}\n"
         "stages:\n"
         "  - name: slow\n"
         "    workers: 1\n"
         "    drop_policy: " + policy + "\n" + stage_extra +
         "    ops: [{op: sleep, ms: " + std::to_string(kSleepMs) + "}]\n" + sink;
}

void expect_exact_accounting(const Json& s) {
  long long by_reason = 0;
  for (const char* reason : {"queue_full", "too_old", "error", "worker_crash", "aborted"})
    by_reason += s["dropped"].integer(reason);
  EXPECT_EQ(s.integer("frames_dropped"), by_reason);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
  EXPECT_EQ(s.integer("frames_read") + s.integer("frames_missed_by_source"), kFrames);
  EXPECT_EQ(s["dropped"].integer("error"), 0);
  EXPECT_EQ(s["dropped"].integer("worker_crash"), 0);
  EXPECT_EQ(s["dropped"].integer("aborted"), 0);
}

class Overload : public CvpipeTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(Overload, LatencyStaysBoundedAndEveryFrameIsAccountedFor) {
  const std::string policy = GetParam();
  const RunResult r = run_cvpipe({"run", write("overload.yaml", overload_config(policy))});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  expect_exact_accounting(s);
  // Half the frames can be processed; far fewer would mean the pipeline stalled.
  EXPECT_GE(s.integer("frames_written"), kFrames / 4);
  EXPECT_LT(s.integer("frames_written"), kFrames * 3 / 4);
  // Unbounded, the last frames would wait for 75 frames ahead of them: 1.5 s. Bounded, a frame
  // waits for the queue (drop policies: a few frames) or for the slots and the source's buffer
  // (block: about ten frames of 20 ms).
  const double p99 = s["latency_ms"]["p99"].number();
  EXPECT_LT(p99, policy == "block" ? 600 : 400) << describe(r);
  if (policy == "block") {
    EXPECT_EQ(s.integer("frames_dropped"), 0) << "block drops nothing: the source loses frames instead";
    EXPECT_GT(s.integer("frames_missed_by_source"), 0);
  } else {
    EXPECT_GT(s["dropped"].integer("queue_full"), 0);
    EXPECT_EQ(s.integer("frames_missed_by_source"), 0) << "under a drop policy capture keeps up with the source";
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, Overload, ::testing::Values("block", "drop_oldest", "drop_newest"),
                         [](const auto& param_info) { return param_info.param; });

using DropPolicy = CvpipeTest;

// drop_oldest always keeps the newest frame: the last frame of the source is written.
TEST_F(DropPolicy, DropOldestWritesTheNewestFrame) {
  const std::string config =
      write("oldest.yaml", overload_config("drop_oldest", "", "sink: {type: images, path: " + path("out") + "/%04d.png}\n"));
  const RunResult r = run_cvpipe({"run", config});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  expect_exact_accounting(summary_of(r));
  const std::vector<std::string> files = list_dir(path("out"));
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files.back(), "0149.png") << "files are named by the frame's sequence number";
  EXPECT_EQ(static_cast<long long>(files.size()), summary_of(r).integer("frames_written"));
}

// A frame older than max_latency_ms when the stage would start it is dropped unprocessed.
TEST_F(DropPolicy, MaxLatencyDropsFramesTooOldToProcess) {
  const RunResult r =
      run_cvpipe({"run", write("too_old.yaml", overload_config("block", "    max_latency_ms: 50\n"))});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  expect_exact_accounting(s);
  EXPECT_GT(s["dropped"].integer("too_old"), 0);
  EXPECT_GT(s.integer("frames_written"), 0);
  // Started at most 50 ms after capture, then 20 ms of sleep, then written.
  EXPECT_LT(s["latency_ms"]["p99"].number(), 200) << describe(r);
  EXPECT_EQ(stage_in(s, "slow").integer("frames_processed"), s.integer("frames_written"))
      << "frames dropped as too old were not processed";
}

// On a file the default is block: two slow stages, and every frame arrives, in order.
TEST_F(DropPolicy, BlockOnAFileLosesNothingWhenWorkersAreSlow) {
  constexpr int kClipFrames = 40;
  ASSERT_TRUE(make_clip(path("clip.mkv"), {160, 120}, kClipFrames));
  const std::string config = write("file.yaml", R"(source: {type: file, path: clip.mkv}
stages:
  - name: first
    workers: 2
    ops: [{op: sleep, ms: 10}]
  - name: second
    workers: 1
    queue: 1
    ops: [{op: sleep, ms: 15}]
sink: {type: images, path: out/%03d.png}
)");
  const RunResult r = run_cvpipe({"run", config});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), kClipFrames);
  EXPECT_EQ(s.integer("frames_written"), kClipFrames);
  EXPECT_EQ(s.integer("frames_dropped"), 0);
  const std::vector<cv::Mat> written = read_images(path("out"));
  std::vector<cv::Mat> expected = read_video(path("clip.mkv"));
  EXPECT_EQ(compare_frames(expected, written), "");
}

}  // namespace
}  // namespace cvpipe
