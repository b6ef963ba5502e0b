// A camera's password, given the way the docs say (`!env`), must never leave the daemon: not in
// its log, its summary, its stats, any HTTP answer, a worker's environment or command line, or
// the shared memory the workers map. The camera is Debian's ffmpeg serving MJPEG on 127.0.0.1,
// reached through a URL with userinfo and a token in its query.
#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/cli_test_util.hpp"
#include "tests/support/net_util.hpp"
#include "tests/support/stream_server.hpp"

namespace cvpipe {
namespace {

using test::http_get;
using test::StreamServer;
using test::wait_until;

constexpr const char* kPassword = "Pa55-s3cret";
constexpr const char* kToken = "Tok-s3cret";


// The content of every memfd the process holds (the segment's layout and frames).
std::string memfds_of(pid_t pid) {
  std::string all;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const std::string& name : list_dir(dir)) {
    char target[256] = "";
    const ssize_t n = ::readlink((dir + "/" + name).c_str(), target, sizeof target - 1);
    if (n > 0 && std::string(target, static_cast<std::size_t>(n)).rfind("/memfd:", 0) == 0)
      all += read_file(dir + "/" + name);
  }
  return all;
}

// Where the secret was found, or "" when nowhere.
std::string leaks(const std::string& channel, const std::string& text) {
  std::string found;
  for (const char* secret : {kPassword, kToken})
    if (text.find(secret) != std::string::npos) found += channel + " shows " + secret + "\n";
  return found;
}

class SecretLeak : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    ASSERT_TRUE(exists(test::kFfmpeg)) << "needs Debian's ffmpeg (tools/dev installs it)";
    stream_port_ = test::free_port();
    http_port_ = test::free_port();
    ASSERT_GT(stream_port_, 0);
    ASSERT_GT(http_port_, 0);
    ::setenv("CVPIPE_TEST_CAMERA_URL",
             ("http://admin:" + std::string(kPassword) + "@127.0.0.1:" + std::to_string(stream_port_) +
              "/?token=" + kToken)
                 .c_str(),
             1);
  }
  void TearDown() override {
    ::unsetenv("CVPIPE_TEST_CAMERA_URL");
    CvpipeTest::TearDown();
  }

  std::string config() {
    return write("camera.yaml", "source:\n  type: url\n  url: !env CVPIPE_TEST_CAMERA_URL\n  open_timeout: 3\n"
                                "  reconnect: {at_start: false}\n"
                                "stages:\n  - name: blur\n    workers: 2\n    ops: [{op: gaussian_blur, ksize: 3}]\n"
                                "sink: {type: \"null\"}\nlog: {stats_interval: 0.3}\n"
                                "http: {listen: 127.0.0.1:" + std::to_string(http_port_) + "}\n");
  }

  int stream_port_ = -1, http_port_ = -1;
};

TEST_F(SecretLeak, TheCameraPasswordIsInNoOutputChannel) {
  StreamServer camera(stream_port_);
  ASSERT_TRUE(camera.ready());
  const std::string stats = path("stats.jsonl");
  RunningProgram daemon = start_cvpipe({"run", config(), "--stats-json", stats});
  ASSERT_TRUE(wait_until([&] { return http_get(http_port_, "/readyz").status == 200 || daemon.has_exited(); },
                         std::chrono::seconds(20)));
  ASSERT_FALSE(daemon.has_exited()) << describe(finish_cvpipe(daemon));
  ASSERT_TRUE(wait_until([&] { return read_file(stats).find("frames_written") != std::string::npos; },
                         std::chrono::seconds(10)));

  std::string found;
  for (const char* page : {"/", "/status.js", "/status.json", "/config.yaml", "/metrics"}) {
    const test::Exchange e = http_get(http_port_, page);
    EXPECT_EQ(e.status, 200) << page;
    found += leaks(std::string("GET ") + page, e.head + e.body);
  }
  const test::Exchange shown = http_get(http_port_, "/config.yaml");
  EXPECT_NE(shown.body.find("url: \"***\""), std::string::npos) << shown.body;
  const std::vector<pid_t> workers = wait_for_workers(daemon, 2);
  ASSERT_EQ(workers.size(), 2u);
  for (pid_t w : workers) {
    found += leaks("a worker's environment", read_file("/proc/" + std::to_string(w) + "/environ"));
    found += leaks("a worker's command line", read_file("/proc/" + std::to_string(w) + "/cmdline"));
    found += leaks("a worker's shared memory", memfds_of(w));
  }
  found += leaks("the daemon's shared memory", memfds_of(daemon.pid()));
  found += leaks("the daemon's command line", read_file("/proc/" + std::to_string(daemon.pid()) + "/cmdline"));

  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(daemon, std::chrono::seconds(20));
  camera.kill();
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_GT(summary_of(r).integer("frames_written"), 0);
  found += leaks("stdout", r.out) + leaks("stderr", r.err) + leaks("--stats-json", read_file(stats));
  EXPECT_EQ(found, "");
  EXPECT_NE(r.err.find("http://admin:***@127.0.0.1:"), std::string::npos) << "the log names the camera, masked\n" << r.err;
}

TEST_F(SecretLeak, ACameraThatIsDownIsNamedWithoutItsPassword) {
  // Nothing listens on the stream's port: the one-line error names the URL, masked.
  const RunResult r = run_cvpipe({"run", config()}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 66) << describe(r);
  EXPECT_EQ(leaks("stdout", r.out) + leaks("stderr", r.err), "");
  EXPECT_NE(r.err.find("cannot open stream http://admin:***@127.0.0.1:"), std::string::npos) << describe(r);
  const RunResult v = run_cvpipe({"validate", config()}, std::chrono::seconds(30));
  EXPECT_EQ(leaks("validate's stdout", v.out) + leaks("validate's stderr", v.err), "");
  // A config error about a --set that holds the password names the --set, masked.
  const RunResult bad = run_cvpipe({"validate", config(), "--set",
                                    std::string("source={type: url, url: \"rtsp://admin:") + kPassword +
                                        "@127.0.0.1:1/x\", open_timeout: 0}"},
                                   std::chrono::seconds(30));
  EXPECT_EQ(bad.exit_code, 78) << describe(bad);
  EXPECT_NE(bad.err.find("--set source={type: url, url: \"rtsp://admin:***@127.0.0.1:1/x\""), std::string::npos)
      << describe(bad);
  EXPECT_EQ(leaks("a config error's line", bad.err), "");
}

}  // namespace
}  // namespace cvpipe
