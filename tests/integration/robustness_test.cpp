// What happens when things go wrong around the daemon: signals to the whole process group, a
// worker that stops making progress, a drain that takes too long, a truncated input, configs that
// would destroy the input or are empty where a value is required.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

class Robustness : public CvpipeTest {
 protected:
  // A paced synthetic source through one blur stage of `workers` workers into the null sink.
  std::string paced_config(int workers, int frames, const std::string& limits = "") {
    return write("paced.yaml", "source: {type: synthetic, width: 160, height: 120, fps: 100, frames: " +
                                   std::to_string(frames) + ", pace: realtime}\n" +
                                   "stages:\n  - name: blur\n    workers: " + std::to_string(workers) +
                                   "\n    ops: [{op: gaussian_blur, ksize: 5}]\nsink: {type: \"null\"}\n" + limits);
  }
};

TEST_F(Robustness, SigtermToTheWholeProcessGroupDrainsCleanly) {
  RunningProgram daemon = start_cvpipe({"run", paced_config(3, 1000)});
  ASSERT_EQ(wait_for_workers(daemon, 3).size(), 3u);
  std::this_thread::sleep_for(500ms);
  ASSERT_EQ(::kill(-daemon.pid(), SIGTERM), 0);  // as `timeout`, systemd or Ctrl-C would
  const RunResult r = finish_cvpipe(daemon, 30s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_LT(s.integer("frames_read"), 1000);
  EXPECT_EQ(s["dropped"].integer("worker_crash"), 0) << "workers must not die of the group's signal";
  EXPECT_EQ(s["dropped"].integer("aborted"), 0) << "the frames in flight must be finished";
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
}

TEST_F(Robustness, AStoppedWorkerIsKilledAfterTheFrameTimeoutAndReplaced) {
  RunningProgram daemon = start_cvpipe({"run", paced_config(2, 300, "limits: {frame_timeout: 0.5}\n")});
  const std::vector<pid_t> workers = wait_for_workers(daemon, 2);
  ASSERT_EQ(workers.size(), 2u);
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(::kill(workers.front(), SIGSTOP), 0);  // hung: alive, making no progress
  const RunResult r = finish_cvpipe(daemon, 60s);

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("worker hung"), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), 300);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
  EXPECT_LE(s["dropped"].integer("worker_crash"), 1);
  EXPECT_GE(stage_in(s, "blur").integer("restarts"), 1);
}

TEST_F(Robustness, ADrainThatOutlastsTheShutdownGraceDropsWhatIsLeft) {
  RunningProgram daemon =
      start_cvpipe({"run", paced_config(1, 1000, "limits: {frame_timeout: 0, shutdown_grace: 0.5}\n")});
  const std::vector<pid_t> workers = wait_for_workers(daemon, 1);
  ASSERT_EQ(workers.size(), 1u);
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(::kill(workers.front(), SIGSTOP), 0);
  std::this_thread::sleep_for(200ms);  // frames pile up behind it
  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(daemon, 30s);

  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 10s) << "the grace is 0.5 s";
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_GE(s["dropped"].integer("aborted"), 1);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
}

TEST_F(Robustness, ATruncatedFileExitsNoInputAfterWritingWhatCouldBeRead) {
  // AVI keeps its frame count in the header at the start (an MP4 without faststart keeps it in
  // the moov at the end, and truncated does not open at all: also 66, but nothing to write).
  const std::string clip = path("clip.avi");
  ASSERT_TRUE(make_clip(clip, cv::Size(320, 240), 120, "MJPG"));
  const auto full = std::filesystem::file_size(clip);
  // Keep the header (the container announces 120 frames) and about half of the frames.
  std::filesystem::resize_file(clip, full / 2);
  const std::string config = write("t.yaml", "source: {type: file, path: " + clip +
                                                 "}\nstages:\n  - name: a\n    ops: [{op: identity}]\n"
                                                 "sink: {type: images, path: " + path("out/%04d.png") + "}\n");
  const RunResult r = run_cvpipe({"run", config});

  ASSERT_EQ(r.exit_code, 66) << describe(r);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_GT(s.integer("frames_written"), 10);
  EXPECT_LT(s.integer("frames_written"), 120);
  EXPECT_EQ(static_cast<long>(list_dir(path("out")).size()), s.integer("frames_written"));
}

TEST_F(Robustness, ASinkThatIsTheSourceIsAConfigError) {
  const std::string clip = path("clip.avi");
  ASSERT_TRUE(make_clip(clip, cv::Size(64, 48), 5, "MJPG"));
  const auto before = std::filesystem::file_size(clip);
  const std::string config = write("same.yaml", "source: {type: file, path: clip.avi}\nstages:\n  - name: a\n"
                                                "    ops: [{op: identity}]\nsink: {type: video, path: ./clip.avi}\n");
  const RunResult r = run_cvpipe({"run", config});

  EXPECT_EQ(r.exit_code, 78) << describe(r);
  EXPECT_NE(r.err.find("sink.path: is the source's file"), std::string::npos) << describe(r);
  EXPECT_EQ(std::filesystem::file_size(clip), before) << "the input was touched";
}

TEST_F(Robustness, EmptyRequiredValuesAreConfigErrors) {
  const std::string config = write("empty.yaml", R"(source: {type: synthetic}
stages:
  - name: ""
    ops:
      - op: ""
sink: {type: ""}
)");
  const RunResult r = run_cvpipe({"validate", config});

  EXPECT_EQ(r.exit_code, 78) << describe(r);
  EXPECT_NE(r.err.find("empty.yaml:3:11: stages[0].name: expected a non-empty string"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("empty.yaml:5:13: stages[0].ops[0].op: expected a non-empty string"), std::string::npos)
      << describe(r);
  EXPECT_NE(r.err.find("sink.type: expected a non-empty string"), std::string::npos) << describe(r);
}

TEST_F(Robustness, AHugeListIndexInSetIsAConfigError) {
  const std::string config = paced_config(1, 10);
  const RunResult r = run_cvpipe({"validate", config, "--set", "stages.99999999999999999999999.workers=2"});

  EXPECT_EQ(r.exit_code, 78) << describe(r);
  EXPECT_NE(r.err.find("index 99999999999999999999999 is out of range: stages has 1 item, index 0"), std::string::npos)
      << describe(r);
}

}  // namespace
}  // namespace cvpipe
