// docs/recipes.md, run as written: each recipe's ```sh block is read from the page and run with
// /bin/sh in a copy of the project's config/ and samples/ (so nothing is written into the source
// tree), `build/cvpipe` standing for the binary under test. A recipe that runs until stopped is
// stopped once it has shown what it promises; a fixed port or camera is swapped for one the test
// owns, and only that. Every wait is bounded.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/integration/cli_test_util.hpp"
#include "tests/support/net_util.hpp"
#include "tests/support/stream_server.hpp"

namespace cvpipe {
namespace {

using test::stderr_of;
using test::wait_until;


// Each recipe's first ```sh block, by its heading.
std::map<std::string, std::string> recipes() {
  const std::string page = read_file(source_path("docs/recipes.md"));
  std::map<std::string, std::string> out;
  const std::regex section(R"(\n## ([^\n]+)\n[\s\S]*?```sh\n([\s\S]*?)```)");
  for (std::sregex_iterator it(page.begin(), page.end(), section), end; it != end; ++it)
    out.emplace((*it)[1].str(), (*it)[2].str());
  return out;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

class Recipes : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    if (HasFatalFailure()) return;
    for (const char* folder : {"config", "samples"})
      std::filesystem::copy(source_path(folder), path(folder), std::filesystem::copy_options::recursive);
    all_ = recipes();
  }

  // The recipe's commands, as /bin/sh runs them in the test's folder.
  std::string commands(const std::string& heading) {
    const auto it = all_.find(heading);
    EXPECT_NE(it, all_.end()) << "docs/recipes.md has no recipe \"" << heading << "\" with a ```sh block";
    return it == all_.end() ? "false" : "cd " + dir_ + " && " + replaced(it->second, "build/cvpipe", cvpipe_binary());
  }
  RunResult run(const std::string& heading, std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    return run_program({"/bin/sh", "-ec", commands(heading)}, timeout);
  }
  // A recipe's first command, which runs until stopped, started in the test's folder.
  RunningProgram start_first(const std::string& script) {
    const std::string line = script.substr(0, script.find('\n'));  // "cd DIR && COMMAND"
    return RunningProgram::start({"/bin/sh", "-c", replaced(line, " && ", " && exec env ")});
  }

  std::map<std::string, std::string> all_;
};

TEST_F(Recipes, EveryRecipeOnThePageIsTested) {
  EXPECT_EQ(all_.size(), 8u) << "a recipe added to docs/recipes.md needs its test here";
}

TEST_F(Recipes, AVideoFileIntoAnAnnotatedMp4) {
  std::filesystem::copy_file(path("samples/mandelbrot-640x360.mp4"), path("my-clip.mp4"));
  const RunResult r = run("A video file into an annotated MP4");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(summary_of(r).integer("frames_written"), 200);
  EXPECT_EQ(ffprobe_frame_count(path("out/my-clip.mp4")), 200);
}

TEST_F(Recipes, PartOfAFileAtTheCamerasPace) {
  const RunResult r = run("Part of a file, at the camera's pace");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_written"), 100);
  EXPECT_GE(s["last_frame_ms"].number() - s["first_frame_ms"].number(), 0.95 * 99 * 40) << "100 frames at 25 fps";
}

TEST_F(Recipes, DetectionsAsData) {
  const RunResult r = run("Detections as data");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::string results = read_file(path("out/vision.jsonl"));
  EXPECT_EQ(std::count(results.begin(), results.end(), '\n'), 20);
  // The script's report: a line a second of video (20 frames at 10 fps: 2), then the busiest frame.
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\n   1 s: \d+ people\nbusiest: frame \d+ at \d+\.\d s, \d+ people\n$)")))
      << r.out;
}

TEST_F(Recipes, FacesFoundByANeuralNetwork) {
  // `tools/dev models` fetches into the project's build/models/; here the same script fills the
  // test folder's (the config names the model relative to itself).
  all_["Faces found by a neural network"] =
      replaced(all_["Faces found by a neural network"], "tools/dev models",
               source_path("tests/dnn/fetch_blazeface.sh") + " " + path("build"));
  const RunResult r = run("Faces found by a neural network");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(summary_of(r).integer("frames_written"), 50);
  EXPECT_GE(summary_of(r)["detections"].integer("face"), 40) << "the clip shows a face in nearly every frame";
  const std::string results = read_file(path("out/faces-dnn.jsonl"));
  EXPECT_EQ(std::count(results.begin(), results.end(), '\n'), 50);
  EXPECT_EQ(ffprobe_frame_count(path("out/faces-dnn.mp4")), 50);
}

TEST_F(Recipes, AWebcamIsWaitedForWhereThereIsNone) {
  // No webcam here: the daemon waits for one (reconnect.at_start) until stopped.
  RunningProgram daemon = start_first(commands("A webcam"));
  ASSERT_TRUE(wait_until([&] { return stderr_of(daemon.pid()).find("source not available at start") != std::string::npos ||
                                      daemon.has_exited(); },
                         std::chrono::seconds(10)));
  ::kill(daemon.pid(), SIGTERM);
  const RunResult r = daemon.finish(std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("cannot open camera /dev/video0"), std::string::npos) << describe(r);
}

TEST_F(Recipes, ANetworkCameraWithItsPasswordFromTheEnvironment) {
  const int camera_port = test::free_port(), http_port = test::free_port();
  test::StreamServer camera(camera_port);
  ASSERT_TRUE(camera.ready());
  std::string script = replaced(commands("A network camera, its password from the environment"),
                                "rtsp://viewer:secret@192.168.1.20:554/stream1",
                                "http://viewer:secret@127.0.0.1:" + std::to_string(camera_port) + "/");
  script = replaced(script, "config/camera.yaml", "config/camera.yaml --set http.listen=127.0.0.1:" + std::to_string(http_port));
  RunningProgram daemon = start_first(script);
  ASSERT_TRUE(wait_until([&] { return stderr_of(daemon.pid()).find("first frame written") != std::string::npos ||
                                      daemon.has_exited(); },
                         std::chrono::seconds(20)))
      << stderr_of(daemon.pid());
  const test::Exchange shown = test::http_get(http_port, "/config.yaml");
  ::kill(daemon.pid(), SIGINT);
  const RunResult r = daemon.finish(std::chrono::seconds(20));
  camera.kill();
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("http://viewer:***@127.0.0.1:"), std::string::npos) << describe(r);
  EXPECT_EQ(r.err.find("secret"), std::string::npos) << describe(r);
  EXPECT_EQ(shown.body.find("secret"), std::string::npos) << shown.body;
  EXPECT_GT(summary_of(r).integer("frames_written"), 0);
}

TEST_F(Recipes, TheStatusPage) {
  const int port = test::free_port();
  const std::string script = replaced(commands("The status page"), "127.0.0.1:8080", "127.0.0.1:" + std::to_string(port));
  RunningProgram daemon = start_first(script);
  ASSERT_TRUE(wait_until([&] { return test::http_get(port, "/readyz").status == 200 || daemon.has_exited(); },
                         std::chrono::seconds(20)));
  const test::Exchange page = test::http_get(port, "/");
  const test::Exchange metrics = test::http_get(port, "/metrics");
  ::kill(daemon.pid(), SIGINT);
  const RunResult r = daemon.finish(std::chrono::seconds(20));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<title>cvpipe</title>"), std::string::npos);
  EXPECT_NE(metrics.body.find("cvpipe_frames_written_total"), std::string::npos);
}

TEST_F(Recipes, MoreWorkersOnARunningDaemon) {
  const std::string pid_file = path("cvpipe.pid");
  const std::string script = replaced(commands("More workers on a running daemon"), "/tmp/cvpipe.pid", pid_file);
  // The daemon the recipe starts in the background writes its log beside the test.
  const RunResult r = run_program({"/bin/sh", "-ec", replaced(script, "--pid-file " + pid_file + " &",
                                                            "--pid-file " + pid_file + " 2>" + path("daemon.log") +
                                                                " >/dev/null & sleep 1")},
                                  std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(wait_until([&] { return read_file(path("daemon.log")).find("config reload: workers smooth 2 -> 3") !=
                                      std::string::npos; },
                         std::chrono::seconds(10)))
      << read_file(path("daemon.log"));
  const std::string held = read_file(pid_file);
  ASSERT_FALSE(held.empty());
  const pid_t daemon = static_cast<pid_t>(std::stol(held));
  ::kill(daemon, SIGINT);
  EXPECT_TRUE(wait_until([&] { return !exists(pid_file); }, std::chrono::seconds(20))) << "the daemon ended, its pid file gone";
  EXPECT_TRUE(wait_until([&] { return ::kill(daemon, 0) != 0; }, std::chrono::seconds(10)));
}

}  // namespace
}  // namespace cvpipe
