// cvpipe's output in a real browser: Debian's headless Chromium, driven by Playwright
// (tests/browser/*.mjs): the status page while the daemon runs, and the videos it writes. npm
// installs playwright-core into the build dir (never the source tree); the screenshot is left
// there as the test's artifact.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "tests/integration/cli_test_util.hpp"
#include "tests/support/net_util.hpp"

namespace cvpipe {
namespace {

std::string artifacts_dir() { return std::filesystem::path(cvpipe_binary()).parent_path() / "test-artifacts"; }

class Browser : public CvpipeTest {
 protected:
  // The folder with playwright-core installed and tests/browser's scripts, installing it once
  // (under a lock: tests run in parallel).
  void SetUp() override {
    CvpipeTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(exists("/usr/bin/chromium")) << "Debian's chromium is missing (tools/dev test installs it)";
    std::filesystem::create_directories(npm_dir_);
    const int lock = ::open((npm_dir_ + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(lock, 0);
    ::flock(lock, LOCK_EX);
    if (!exists(npm_dir_ + "/node_modules/playwright-core/package.json")) {
      std::filesystem::copy_file(source_path("tests/browser/package.json"), npm_dir_ + "/package.json",
                                 std::filesystem::copy_options::overwrite_existing);
      const RunResult npm =
          run_program({"/usr/bin/env", "npm", "install", "--prefix", npm_dir_, "--no-audit", "--no-fund"}, 120s);
      EXPECT_EQ(npm.exit_code, 0) << "npm install playwright-core: " << describe(npm);
    }
    for (const char* script : {"status_page.mjs", "video_playback.mjs"})
      std::filesystem::copy_file(source_path(std::string("tests/browser/") + script), npm_dir_ + "/" + script,
                                 std::filesystem::copy_options::overwrite_existing);
    ::close(lock);
  }

  const std::string npm_dir_ = artifacts_dir() + "/browser";
};

TEST_F(Browser, ShowsTheStatusPagesStagesAndALivePreview) {
  const int port = test::free_port();
  ASSERT_GT(port, 0);
  // Long enough for the browser (a minute of frames at 25 fps); stopped with SIGINT once checked.
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, width: 480, height: 270, fps: 25, frames: 1500, pace: realtime}
stages:
  - name: smooth
    workers: 2
    ops: [{op: gaussian_blur, ksize: 9}]
  - name: label
    ops: [{op: annotate}]
sink: {type: "null"}
http: {listen: 127.0.0.1:)" + std::to_string(port) + "}\n");
  RunningProgram daemon = start_cvpipe({"run", config});
  const std::string screenshot = artifacts_dir() + "/status_page.png";
  std::filesystem::remove(screenshot);
  const RunResult browser = run_program({"/usr/bin/env", "node", npm_dir_ + "/status_page.mjs",
                                         "http://127.0.0.1:" + std::to_string(port) + "/", "smooth,label", screenshot,
                                         std::to_string(daemon.pid())},
                                        90s);
  ::kill(daemon.pid(), SIGINT);
  const RunResult r = finish_cvpipe(daemon, 60s);
  EXPECT_EQ(browser.exit_code, 0) << browser.out << browser.err;
  EXPECT_NE(browser.out.find("ok stages=smooth,label"), std::string::npos) << browser.out << browser.err;
  EXPECT_TRUE(exists(screenshot));
  EXPECT_GT(std::filesystem::file_size(screenshot), 10'000u);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

// The video sink's default, H.264 in MP4, plays in Chromium at its size and length; MPEG-4 Part 2
// (mp4v, the default before) does not, which is what the script must be able to tell.
TEST_F(Browser, PlaysTheVideoSinksDefaultOutput) {
  const std::string config = write("pipeline.yaml", "source: {type: synthetic, width: 320, height: 240, fps: 25, frames: 50}\n"
                                                    "stages: [{name: copy, ops: [{op: identity}]}]\n"
                                                    "sink: {type: video, path: out/default.mp4}\n");
  ASSERT_EQ(run_cvpipe({"run", config}).exit_code, 0);
  ASSERT_EQ(run_cvpipe({"run", config, "--set", "sink.path=" + path("out/mp4v.mp4"), "--set", "sink.fourcc=mp4v"}).exit_code, 0);

  const RunResult h264 = run_program({"/usr/bin/env", "node", npm_dir_ + "/video_playback.mjs", path("out/default.mp4"),
                                      "320", "240", "2"}, 60s);
  EXPECT_EQ(h264.exit_code, 0) << h264.out << h264.err;
  EXPECT_NE(h264.out.find("ok 320x240 duration=2.000"), std::string::npos) << h264.out << h264.err;
  const RunResult mp4v = run_program({"/usr/bin/env", "node", npm_dir_ + "/video_playback.mjs", path("out/mp4v.mp4"),
                                      "320", "240", "2"}, 60s);
  EXPECT_EQ(mp4v.exit_code, 2) << mp4v.out << mp4v.err;
  EXPECT_NE(mp4v.out.find("unplayable"), std::string::npos) << mp4v.out << mp4v.err;
}

}  // namespace
}  // namespace cvpipe
