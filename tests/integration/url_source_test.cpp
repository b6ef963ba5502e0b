// The url source against a real stream server on 127.0.0.1: Debian's ffmpeg serving MJPEG over
// HTTP, started, killed and started again while the daemon runs. The daemon must notice the loss,
// retry, take the stream back into the same output, and keep its accounting exact.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "tests/integration/cli_test_util.hpp"
#include "tests/support/net_util.hpp"
#include "tests/support/stream_server.hpp"

namespace cvpipe {
namespace {

using test::free_port;
using test::kFfmpeg;
using test::StreamServer;
using test::stderr_of;
using test::wait_until;


class UrlSource : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    ASSERT_TRUE(exists(kFfmpeg)) << "needs Debian's ffmpeg (tools/dev installs it)";
    port_ = free_port();
    ASSERT_GT(port_, 0);
    url_ = "http://127.0.0.1:" + std::to_string(port_) + "/";
  }

  // A url source into `sink`, reconnecting quickly.
  std::string config(const std::string& reconnect, const std::string& sink) {
    return write("stream.yaml", "source:\n  type: url\n  url: " + url_ +
                                    "\n  open_timeout: 2\n  read_timeout: 2\n  reconnect: " + reconnect +
                                    "\nstages:\n  - name: blur\n    ops: [{op: median_blur, ksize: 3}]\n"
                                    "sink: " + sink + "\nlog: {stats_interval: 0.5}\n");
  }

  std::size_t images_written() const { return list_dir(path("out")).size(); }

  int port_ = -1;
  std::string url_;
};

TEST_F(UrlSource, ReconnectsWhenTheServerComesBackAndWritesIntoTheSameOutput) {
  auto server = std::make_unique<StreamServer>(port_);
  ASSERT_TRUE(server->ready()) << "ffmpeg did not listen on " << url_;
  RunningProgram daemon = start_cvpipe(
      {"run", config("{delay: 0.2, max_delay: 0.5}", "{type: images, path: " + path("out/%06d.jpg") + "}")});
  ASSERT_TRUE(wait_until([&] { return images_written() >= 10 || daemon.has_exited(); }, 15s))
      << "no frames from the stream\n" << stderr_of(daemon.pid());
  ASSERT_FALSE(daemon.has_exited()) << describe(finish_cvpipe(daemon));

  server->kill();
  ASSERT_TRUE(wait_until([&] { return stderr_of(daemon.pid()).find("reconnect attempt 2 failed") != std::string::npos; },
                         10s))
      << "no failed reconnect attempts logged\n" << stderr_of(daemon.pid());
  ASSERT_FALSE(daemon.has_exited()) << "the daemon must stay up while the stream is away\n"
                                    << describe(finish_cvpipe(daemon));
  const std::size_t before = images_written();

  server = std::make_unique<StreamServer>(port_);  // the same URL again
  ASSERT_TRUE(server->ready()) << "ffmpeg did not listen on " << url_ << " again";
  ASSERT_TRUE(wait_until([&] { return images_written() >= before + 10 || daemon.has_exited(); }, 15s))
      << "no frames after the server came back\n" << stderr_of(daemon.pid());
  const std::size_t after = images_written();

  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(daemon, 20s);
  server->kill();

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("source lost: the stream ended; reconnecting in"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("source reconnected after"), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped")) << r.out;
  EXPECT_EQ(static_cast<long long>(images_written()), s.integer("frames_written"));
  EXPECT_GE(before, 10u);
  EXPECT_GE(after, before + 10) << "frames written after the outage";
  // One run, one output: every file has the stream's size.
  const std::vector<cv::Mat> images = read_images(path("out"));
  ASSERT_FALSE(images.empty());
  EXPECT_EQ(images.front().size(), cv::Size(320, 240));
  EXPECT_EQ(images.back().size(), cv::Size(320, 240));
}

TEST_F(UrlSource, StopsAtOnceOnSigintWhileWaitingToReconnect) {
  StreamServer server(port_);
  ASSERT_TRUE(server.ready()) << "ffmpeg did not listen on " << url_;
  RunningProgram daemon =
      start_cvpipe({"run", config("{delay: 60, max_delay: 60}", "{type: images, path: " + path("out/%06d.jpg") + "}")});
  ASSERT_TRUE(wait_until([&] { return images_written() >= 5 || daemon.has_exited(); }, 15s))
      << "no frames from the stream\n" << stderr_of(daemon.pid());
  server.kill();
  ASSERT_TRUE(wait_until([&] { return stderr_of(daemon.pid()).find("source lost") != std::string::npos; }, 10s))
      << stderr_of(daemon.pid());
  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(daemon, 20s);

  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 5s) << "the next attempt was 45-60 s away";
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped")) << r.out;
  EXPECT_EQ(static_cast<long long>(images_written()), s.integer("frames_written"));
}

TEST_F(UrlSource, NobodyListeningAtStartExitsNoInputInOneLineWhenToldNotToWait) {
  const RunResult r =
      run_cvpipe({"run", config("{delay: 0.2, at_start: false}", "{type: images, path: " + path("out/%06d.jpg") + "}")}, 20s);

  EXPECT_EQ(r.exit_code, 66) << describe(r);
  EXPECT_EQ(r.out, "");
  std::vector<std::string> lines;
  std::istringstream in(r.err);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1u) << describe(r);
  EXPECT_EQ(lines[0].rfind("cvpipe: input error: cannot open stream " + url_ + ": ", 0), 0u) << describe(r);
  EXPECT_FALSE(exists(path("out")));
}

TEST_F(UrlSource, TheShippedStreamConfigReadsAStream) {
  StreamServer server(port_);
  ASSERT_TRUE(server.ready()) << "ffmpeg did not listen on " << url_;
  const RunResult r = run_cvpipe({"validate", source_path("config/stream.yaml"), "--set", "source.url=" + url_}, 30s);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("url " + url_ + " 320x240 8UC3 -> 2 stages"), std::string::npos) << describe(r);
}

TEST_F(UrlSource, GivesUpAfterItsAttemptsAndLeavesAPlayableOutput) {
  StreamServer server(port_);
  ASSERT_TRUE(server.ready()) << "ffmpeg did not listen on " << url_;
  const std::string video = path("out.avi");
  RunningProgram daemon =
      start_cvpipe({"run", config("{delay: 0.1, max_delay: 0.2, attempts: 2}", "{type: video, path: " + video +
                                                                                  ", fourcc: MJPG}")});
  ASSERT_TRUE(wait_until([&] { return stderr_of(daemon.pid()).find("first frame written") != std::string::npos ||
                                      daemon.has_exited(); },
                         15s));
  std::this_thread::sleep_for(400ms);  // ~10 frames at 25 fps
  server.kill();
  const RunResult r = finish_cvpipe(daemon, 20s);

  ASSERT_EQ(r.exit_code, 66) << describe(r);
  EXPECT_NE(r.err.find("reconnect attempt 1/2 failed"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("gave up reconnecting after 2 attempts"), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("exit_code"), 66);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped")) << r.out;
  EXPECT_GE(s.integer("frames_written"), 5);
  const std::vector<cv::Mat> frames = read_video(video);
  EXPECT_EQ(static_cast<long long>(frames.size()), s.integer("frames_written")) << "the output is finalized";
  if (!frames.empty()) {
    EXPECT_EQ(frames.front().size(), cv::Size(320, 240));
  }
}

// A stream of 10 frames a second, which MJPEG over HTTP cannot announce (readers take 25): the
// video is written at the frames' capture times, so it plays as long as the stream ran, in H.264.
TEST_F(UrlSource, ATenFpsStreamIsRecordedAtTheSpeedItRan) {
  StreamServer server(port_, 10);
  ASSERT_TRUE(server.ready()) << "ffmpeg did not listen on " << url_;
  const std::string video = path("out.mp4");
  RunningProgram daemon = start_cvpipe({"run", config("{delay: 0.2}", "{type: video, path: " + video + "}")});
  ASSERT_TRUE(wait_until([&] { return stderr_of(daemon.pid()).find("first frame written") != std::string::npos ||
                                      daemon.has_exited(); },
                         15s));
  // Long enough that the frames that queue up while the daemon starts (read in a burst, so timed
  // together) are a small part of it.
  std::this_thread::sleep_for(8s);
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(daemon, 20s);
  server.kill();

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json s = summary_of(r);
  const long long frames = s.integer("frames_written");
  ASSERT_GE(frames, 50) << describe(r);
  const auto probed = ffprobe_stream(video, "codec_name,nb_frames,duration");
  EXPECT_EQ(probed.count("codec_name") ? probed.at("codec_name") : "", "h264");
  EXPECT_EQ(probed.count("nb_frames") ? std::stoll(probed.at("nb_frames")) : -1, frames);
  // The server sends a frame every 100 ms of the wall clock: the video lasts frames / 10 s
  // (2.5 times less if written at the 25 fps the reader assumed).
  const double duration = probed.count("duration") ? std::stod(probed.at("duration")) : 0;
  const double wall = static_cast<double>(frames) / 10.0;
  EXPECT_NEAR(duration, wall, 0.05 * wall) << frames << " frames";
}

// A camera that is down when the daemon starts (rebooting, say): the run waits for it with the
// reconnect policy's backoff, then frames flow; no crash loop under a supervisor.
TEST_F(UrlSource, AStreamDownAtStartIsWaitedForAndThenRead) {
  const int http_port = free_port();
  std::string text = read_file(config("{delay: 0.2, max_delay: 0.5}", "{type: images, path: " + path("out/%06d.jpg") + "}"));
  RunningProgram daemon = start_cvpipe(
      {"run", write("stream.yaml", text + "http: {listen: 127.0.0.1:" + std::to_string(http_port) + "}\n")});
  ASSERT_TRUE(wait_until([&] { return stderr_of(daemon.pid()).find("source not available at start (attempt 2)") !=
                                      std::string::npos || daemon.has_exited(); },
                         10s))
      << stderr_of(daemon.pid());
  ASSERT_FALSE(daemon.has_exited()) << describe(finish_cvpipe(daemon));
  // Its endpoint answers while it waits: alive, not ready, and why.
  EXPECT_EQ(test::http_get(http_port, "/healthz").status, 200);
  const test::Exchange ready = test::http_get(http_port, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("waiting for the source"), std::string::npos) << ready.body;
  std::this_thread::sleep_for(2s);  // 3 s or so after the start
  StreamServer server(port_);
  ASSERT_TRUE(server.ready()) << "ffmpeg did not listen on " << url_;
  ASSERT_TRUE(wait_until([&] { return images_written() >= 10 || daemon.has_exited(); }, 15s))
      << "no frames once the stream came up\n" << stderr_of(daemon.pid());
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(daemon, 20s);
  server.kill();

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("source available after"), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_GE(s.integer("frames_written"), 10);
  EXPECT_EQ(static_cast<long long>(images_written()), s.integer("frames_written"));
}

TEST_F(UrlSource, WaitingForAStreamAtStartStopsOnSigtermAndGivesUpAfterItsAttempts) {
  RunningProgram daemon =
      start_cvpipe({"run", config("{delay: 30}", "{type: images, path: " + path("out/%06d.jpg") + "}")});
  ASSERT_TRUE(wait_until([&] { return stderr_of(daemon.pid()).find("trying again in") != std::string::npos ||
                                      daemon.has_exited(); },
                         10s));
  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(daemon.pid(), SIGTERM), 0);
  const RunResult stopped = finish_cvpipe(daemon, 20s);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 3s) << "the next attempt was 22-30 s away";
  EXPECT_EQ(stopped.exit_code, 0) << describe(stopped);
  EXPECT_NE(stopped.err.find("cvpipe: stopped while waiting for the source"), std::string::npos) << describe(stopped);
  EXPECT_FALSE(exists(path("out")));

  const RunResult gave_up =
      run_cvpipe({"run", config("{delay: 0.1, attempts: 3}", "{type: images, path: " + path("out/%06d.jpg") + "}")}, 30s);
  EXPECT_EQ(gave_up.exit_code, 66) << describe(gave_up);
  EXPECT_NE(gave_up.err.find("(gave up after 3 attempts at start, reconnect.attempts=3)"), std::string::npos)
      << describe(gave_up);
  EXPECT_NE(gave_up.err.find("source not available at start (attempt 2/3)"), std::string::npos) << describe(gave_up);
}

}  // namespace
}  // namespace cvpipe
