// The status page in a real browser: Debian's headless Chromium, driven by Playwright
// (tests/browser/status_page.mjs), while the daemon runs. npm installs playwright-core into the
// build dir (never the source tree); the screenshot is left there as the test's artifact.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

class StatusPage : public CvpipeTest {};

std::string artifacts_dir() { return std::filesystem::path(cvpipe_binary()).parent_path() / "test-artifacts"; }

TEST_F(StatusPage, ShowsTheStagesAndALivePreviewInChromium) {
  const std::string npm_dir = artifacts_dir() + "/browser";
  std::filesystem::create_directories(npm_dir);
  if (!exists(npm_dir + "/node_modules/playwright-core/package.json")) {
    std::filesystem::copy_file(source_path("tests/browser/package.json"), npm_dir + "/package.json",
                               std::filesystem::copy_options::overwrite_existing);
    const RunResult npm = run_program({"/usr/bin/env", "npm", "install", "--prefix", npm_dir, "--no-audit", "--no-fund"}, 120s);
    ASSERT_EQ(npm.exit_code, 0) << "npm install playwright-core: " << describe(npm);
  }
  std::filesystem::copy_file(source_path("tests/browser/status_page.mjs"), npm_dir + "/status_page.mjs",
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(exists("/usr/bin/chromium")) << "Debian's chromium is missing (tools/dev test installs it)";

  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  const int port = ntohs(addr.sin_port);
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
  const RunResult browser = run_program({"/usr/bin/env", "node", npm_dir + "/status_page.mjs",
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

}  // namespace
}  // namespace cvpipe
