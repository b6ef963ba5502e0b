// The periodic stats for scripts and people: --stats-json appends JSON lines, and a file source
// on a terminal gets a progress line redrawn in place (plain stats lines otherwise).
#include <opencv2/core/utility.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

class StatsOutput : public CvpipeTest {};

TEST_F(StatsOutput, StatsJsonAppendsOneObjectPerIntervalAndALastOne) {
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, width: 160, height: 120, fps: 50, frames: 60, pace: realtime}
stages: [{name: blur, workers: 2, ops: [{op: gaussian_blur}]}]
sink: {type: "null"}
log: {stats_interval: 0.2}
)");
  write("stats.jsonl", "{\"earlier\":true}\n");  // appended to, not replaced
  const RunResult r = run_cvpipe({"run", config, "--stats-json", path("stats.jsonl")}, 60s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::ifstream in(path("stats.jsonl"));
  std::vector<Json> lines;
  for (std::string line; std::getline(in, line);) {
    auto j = Json::parse(line);
    ASSERT_TRUE(j) << "not one JSON object: " << line;
    lines.push_back(*j);
  }
  ASSERT_GE(lines.size(), 4u);  // the earlier line, >= 2 periodic ones in ~1.2 s, the last
  EXPECT_TRUE(lines[0].has("earlier"));
  long long previous = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    EXPECT_GE(lines[i].integer("frames_written"), previous);
    previous = lines[i].integer("frames_written");
    EXPECT_EQ(lines[i]["stages"][0]["name"].string(), "blur");
  }
  const Json s = summary_of(r);
  EXPECT_EQ(lines.back().integer("frames_written"), s.integer("frames_written"));
  EXPECT_EQ(lines.back().integer("frames_read"), s.integer("frames_read"));
  EXPECT_EQ(lines.back().integer("frames_total"), 60);
  EXPECT_EQ(lines.back()["stages"][0].integer("frames_processed"), stage_in(s, "blur").integer("frames_processed"));
}

// Until the first frame is out, a source with no clock (synthetic frames at pace: max, or a file)
// is read no further than that frame: more frames decoded meanwhile, and other workers on them,
// would take cores from it. Then the free slots fill as usual.
TEST_F(StatsOutput, TheFirstFrameGoesOutBeforeTheSourceIsReadFurther) {
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, width: 160, height: 120, frames: 12}
stages: [{name: slow, workers: 2, ops: [{op: sleep, ms: 400}]}]
buffers: {slots: 8}
sink: {type: "null"}
log: {stats_interval: 0.05}
)");
  const RunResult r = run_cvpipe({"run", config, "--stats-json", path("stats.jsonl")}, 60s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::ifstream in(path("stats.jsonl"));
  int before_first = 0;
  long long most_ahead = 0;
  for (std::string line; std::getline(in, line);) {
    auto j = Json::parse(line);
    ASSERT_TRUE(j) << "not one JSON object: " << line;
    const long long read = j->integer("frames_read"), written = j->integer("frames_written");
    if (written == 0) {
      ++before_first;
      EXPECT_LE(read, 1) << line;
    }
    most_ahead = std::max(most_ahead, read - written);
  }
  EXPECT_GE(before_first, 3) << "the first frame takes 400 ms; stats every 50 ms";
  EXPECT_GE(most_ahead, 6) << "after the first frame, the slots did not fill";
  EXPECT_EQ(summary_of(r).integer("frames_written"), 12);
}

// That first frame, alone in the pipeline, runs on every core: each worker it meets gives its
// ops as many OpenCV threads as there are cores (at least its stage's `threads`), for that frame
// only. A live source keeps its frames coming, so none of its frames is alone.
TEST_F(StatsOutput, TheFirstFrameOfAClocklessSourceAloneRunsOnEveryCore) {
  const int cores = cv::getNumberOfCPUs();
  const auto lines_alone = [](const RunResult& r) {
    std::vector<std::string> found;
    std::istringstream err(r.err);
    for (std::string line; std::getline(err, line);)
      if (line.find("alone in the pipeline") != std::string::npos) found.push_back(line);
    return found;
  };
  for (const char* pace : {"max", "realtime"}) {
    SCOPED_TRACE(pace);
    const std::string config = write("pipeline.yaml", std::string(R"(source: {type: synthetic, width: 320, height: 240, fps: 100, frames: 12, pace: )") +
                                                          pace + R"(}
stages:
  - {name: blur, workers: 2, ops: [{op: gaussian_blur}]}
  - {name: edges, workers: 1, ops: [{op: grayscale}, {op: canny}]}
sink: {type: "null"}
log: {level: debug, stats_interval: 0}
)");
    const RunResult r = run_cvpipe({"run", config}, 60s);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(summary_of(r).integer("frames_written"), 12);
    const std::vector<std::string> alone = lines_alone(r);
    if (std::string(pace) == "realtime" || cores == 1) {
      EXPECT_TRUE(alone.empty()) << describe(r);
      continue;
    }
    ASSERT_EQ(alone.size(), 2u) << "one line from each stage's worker: " << describe(r);
    for (const auto& line : alone)
      EXPECT_NE(line.find("frame 0 alone in the pipeline: its ops on " + std::to_string(cores) + " OpenCV threads"),
                std::string::npos)
          << line;
  }
}

// One worker that cannot keep up with its live source: busy all the time, dropping the rest. The
// busy share of each stats line is at most 100% (a frame's time counts when it ends, so a long one
// straddles two intervals), and the finished line says why frames were dropped.
TEST_F(StatsOutput, TheStatsLinesBusyShareIsAtMostAllAndTheFinishedLineGivesDropReasons) {
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, width: 160, height: 120, fps: 200, frames: 400, pace: realtime}
stages: [{name: slow, ops: [{op: sleep, ms: 7}]}]
sink: {type: "null"}
log: {stats_interval: 0.1}
)");
  const RunResult r = run_cvpipe({"run", config}, 60s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  int lines = 0;
  double highest = 0;
  for (std::size_t at = r.err.find("busy="); at != std::string::npos; at = r.err.find("busy=", at + 1)) {
    const double share = std::stod(r.err.substr(at + 5));
    highest = std::max(highest, share);
    EXPECT_LE(share, 100.0) << describe(r);
    ++lines;
  }
  EXPECT_GE(lines, 10) << describe(r);
  EXPECT_GE(highest, 90.0) << "the worker is busy all the time: " << describe(r);
  const Json s = summary_of(r);
  ASSERT_GT(s["dropped"].integer("queue_full"), 0) << describe(r);
  EXPECT_NE(r.err.find("finished read=" + std::to_string(s.integer("frames_read")) + " written=" +
                       std::to_string(s.integer("frames_written")) + " dropped=" +
                       std::to_string(s.integer("frames_dropped")) + " (queue_full=" +
                       std::to_string(s["dropped"].integer("queue_full")) + ")"),
            std::string::npos)
      << describe(r);
}

TEST_F(StatsOutput, AStatsJsonFileThatCannotBeOpenedIsExit73) {
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, frames: 5}
stages: [{name: s, ops: [{op: identity}]}]
sink: {type: "null"}
)");
  const RunResult r = run_cvpipe({"run", config, "--stats-json", path("no/such/dir/stats.jsonl")}, 60s);
  EXPECT_EQ(r.exit_code, 73) << describe(r);
  EXPECT_NE(r.err.find("--stats-json"), std::string::npos) << r.err;
}

TEST_F(StatsOutput, AFileSourceOnATerminalGetsAProgressLineElsewherePlainStatsLines) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), {160, 120}, 90));
  const std::string config = write("pipeline.yaml", R"(source: {type: file, path: clip.mkv}
stages: [{name: blur, ops: [{op: gaussian_blur, ksize: 31}, {op: median_blur, ksize: 5}]}]
sink: {type: "null"}
log: {stats_interval: 0.1}
)");
  // script(1) (util-linux) gives the daemon a terminal as stdout and stderr.
  const RunResult tty = run_program({"/usr/bin/script", "-qec", cvpipe_binary() + " run " + config, "/dev/null"}, 60s);
  ASSERT_EQ(tty.exit_code, 0) << describe(tty);
  EXPECT_NE(tty.out.find("\r  90/90 frames 100%"), std::string::npos) << tty.out;
  EXPECT_EQ(tty.out.find("stats read="), std::string::npos) << "a terminal gets the progress line instead";
  const RunResult plain = run_cvpipe({"run", config}, 60s);
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  EXPECT_EQ(plain.err.find("frames 100%"), std::string::npos);
}

}  // namespace
}  // namespace cvpipe
