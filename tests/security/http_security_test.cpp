// The HTTP endpoint against clients that mean harm, on 127.0.0.1: slow and idle connections and
// floods beside the probes a liveness check depends on, requests with huge bodies, methods and hosts
// it does not serve, the token, and the headers every answer carries. Every loop is bounded.
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/integration/cli_test_util.hpp"
#include "tests/support/net_util.hpp"
#include "tests/support/sanitized.hpp"

namespace cvpipe {
namespace {

using test::connect_to;
using test::Exchange;
using test::http_get;
using test::read_for;
using test::send_all;

// The resident memory of `pid` in MiB, from /proc.
long rss_mib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  return -1;
}

class HttpSecurity : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    port_ = test::free_port();
    ASSERT_GT(port_, 0);
  }

  // A daemon with the endpoint on 127.0.0.1, a synthetic source paced at `fps` for `seconds`.
  RunningProgram start(int fps, int seconds, const std::string& http_extra = "") {
    const std::string config = write(
        "pipeline.yaml", "source: {type: synthetic, width: 320, height: 240, fps: " + std::to_string(fps) +
                             ", frames: " + std::to_string(fps * seconds) + ", pace: realtime}\n"
                             "stages: [{name: blur, workers: 2, ops: [{op: gaussian_blur, ksize: 5}]}]\n"
                             "sink: {type: \"null\"}\nlog: {stats_interval: 0}\n"
                             "http: {listen: 127.0.0.1:" + std::to_string(port_) + http_extra + "}\n");
    RunningProgram daemon = start_cvpipe({"run", config});
    // Until its workers are ready (bounded).
    for (int i = 0; i < 200 && http_get(port_, "/readyz").status != 200; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    return daemon;
  }

  // Ends the run now (SIGINT: it drains and exits 0) rather than at the end of its frames.
  RunResult stop(RunningProgram& daemon) {
    ::kill(daemon.pid(), SIGINT);
    return finish_cvpipe(daemon, std::chrono::seconds(60));
  }

  int port_ = -1;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

TEST_F(HttpSecurity, ProbesAnswerWithin100MsWhile64HostileClientsAreConnected) {
  RunningProgram daemon = start(50, 12);
  ASSERT_EQ(http_get(port_, "/healthz").status, 200);
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  std::atomic<int> connected{0};
  // 20 clients that send their head a byte at a time, every 200 ms, and start again when dropped.
  for (int i = 0; i < 20; ++i)
    clients.emplace_back([&] {
      const std::string head = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(200, 'a') + "\r\n\r\n";
      while (!stop) {
        UniqueFd fd = connect_to(port_);
        ++connected;
        for (std::size_t b = 0; fd && b < head.size() && !stop; ++b) {
          if (!send_all(fd.get(), head.substr(b, 1))) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        --connected;
      }
    });
  // 20 idle keep-alive connections (one request each, then silence), opened again when closed.
  for (int i = 0; i < 20; ++i)
    clients.emplace_back([&] {
      while (!stop) {
        UniqueFd fd = connect_to(port_);
        ++connected;
        if (fd && send_all(fd.get(), "GET /status.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) {
          (void)read_for(fd.get(), std::chrono::milliseconds(500), 4096);
          for (int t = 0; t < 100 && !stop; ++t) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        --connected;
      }
    });
  // 4 MJPEG viewers: two read everything, two read nothing.
  for (int i = 0; i < 4; ++i)
    clients.emplace_back([&, i] {
      UniqueFd fd = connect_to(port_);
      ++connected;
      if (fd) (void)send_all(fd.get(), "GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      while (!stop) {
        if (i < 2 && fd) (void)read_for(fd.get(), std::chrono::milliseconds(100));
        else std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      --connected;
    });
  // 8 loops fetching /preview.jpg as fast as they can.
  std::atomic<int> previews_ok{0}, previews_limited{0};
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&] {
      while (!stop) {
        ++connected;
        const Exchange e = http_get(port_, "/preview.jpg", "", std::chrono::seconds(3));
        --connected;
        if (e.status == 200) ++previews_ok;
        if (e.status == 429) ++previews_limited;
      }
    });
  // 12 that connect and say nothing.
  std::vector<UniqueFd> silent;
  for (int i = 0; i < 12; ++i) silent.push_back(connect_to(port_));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));

  std::vector<double> latencies;
  int failed = 0;
  for (int i = 0; i < 100; ++i) {
    const Exchange e = http_get(port_, i % 2 ? "/readyz" : "/healthz", "", std::chrono::seconds(2));
    if (e.status != 200) ++failed;
    latencies.push_back(e.status == 200 ? e.ms : 2000.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  const int hostile = connected.load() + static_cast<int>(silent.size());
  stop = true;
  for (auto& t : clients) t.join();
  silent.clear();
  const RunResult r = finish_cvpipe(daemon, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  EXPECT_GE(hostile, 50) << "the hostile clients were not all connected";
  EXPECT_EQ(failed, 0);
  EXPECT_LE(percentile(latencies, 99), kSanitizedBuild ? 300.0 : 100.0)
      << "p50 " << percentile(latencies, 50) << " ms, max " << percentile(latencies, 100) << " ms";
  EXPECT_GT(previews_ok.load(), 0);
  EXPECT_GT(previews_limited.load(), 0) << "the preview loops were never limited";
  // The pipeline kept its rate: a paced source, every frame through.
  const Json s = summary_of(r);
  EXPECT_GE(s.integer("frames_written"), static_cast<long long>(0.9 * static_cast<double>(s.integer("frames_read"))))
      << describe(r);
  EXPECT_GE(s.integer("frames_read"), 0.9 * 50 * 12) << "the source fell behind its pace";
}

TEST_F(HttpSecurity, AHugeBodyIsNeverReadAndOtherMethodsGet405) {
  RunningProgram daemon = start(25, 8);
  const long before = rss_mib(daemon.pid());
  // A POST that announces 300 MiB and sends 64 MiB of it, as fast as the server takes it.
  UniqueFd fd = connect_to(port_);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(send_all(fd.get(), "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 314572800\r\n\r\n"));
  const std::string chunk(1 << 20, 'x');
  std::size_t sent = 0;
  const std::int64_t deadline = monotonic_ns() + 3'000'000'000LL;
  while (sent < (64u << 20) && monotonic_ns() < deadline) {
    const ssize_t n = ::send(fd.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    sent += static_cast<std::size_t>(n);
  }
  const std::string reply = read_for(fd.get(), std::chrono::seconds(3), 4096);
  EXPECT_EQ(reply.rfind("HTTP/1.1 405", 0), 0u) << reply.substr(0, 200);
  EXPECT_LT(sent, 16u << 20) << "the server read the body: it took " << (sent >> 20) << " MiB";
  const long after = rss_mib(daemon.pid());
  EXPECT_LT(after - before, 20) << before << " -> " << after << " MiB";
  for (const char* method : {"PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"}) {
    const Exchange e = http_get(port_, "/healthz", "", std::chrono::seconds(2), method);
    EXPECT_EQ(e.status, 405) << method;
    EXPECT_NE(e.head.find("Allow: GET, HEAD"), std::string::npos) << e.head;
  }
  EXPECT_EQ(http_get(port_, "/healthz", "Content-Length: 5\r\n").status, 413) << "a GET with a body";
  const Exchange head = http_get(port_, "/metrics", "", std::chrono::seconds(2), "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(http_get(port_, "/healthz").status, 200);
  const RunResult r = stop(daemon);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

TEST_F(HttpSecurity, AHeadTooLargeOrTooSlowIsRefused) {
  RunningProgram daemon = start(25, 10);
  EXPECT_EQ(http_get(port_, "/healthz", "X-Big: " + std::string(16 << 10, 'a') + "\r\n").status, 431);
  // A head that does not come whole within the deadline (5 s) gets 408 and the door.
  UniqueFd fd = connect_to(port_);
  ASSERT_TRUE(send_all(fd.get(), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  const std::string reply = read_for(fd.get(), std::chrono::seconds(8));
  EXPECT_EQ(reply.rfind("HTTP/1.1 408", 0), 0u) << reply;
  const RunResult r = stop(daemon);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

TEST_F(HttpSecurity, PastTheConnectionCapTheIdlestGoesOrANewOneGets503) {
  RunningProgram daemon = start(25, 8, ", max_connections: 8");
  // Eight connections in the middle of a request (not idle): a ninth is turned away at once.
  std::vector<UniqueFd> busy;
  for (int i = 0; i < 8; ++i) {
    busy.push_back(connect_to(port_));
    ASSERT_TRUE(send_all(busy.back().get(), "GET /healthz HTTP/1.1\r\n"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const Exchange refused = http_get(port_, "/healthz", "", std::chrono::seconds(2));
  EXPECT_EQ(refused.status, 503);
  EXPECT_LT(refused.ms, 1000);
  busy.clear();
  // Eight idle keep-alive connections: a ninth is served, the idlest closed for it.
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(connect_to(port_));
    ASSERT_TRUE(send_all(idle.back().get(), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    (void)read_for(idle.back().get(), std::chrono::milliseconds(300), 200);
  }
  EXPECT_EQ(http_get(port_, "/healthz").status, 200);
  const RunResult r = stop(daemon);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

TEST_F(HttpSecurity, ALoopbackBindAnswersOnlyLoopbackHostNames) {
  RunningProgram daemon = start(25, 6);
  const std::string port = std::to_string(port_);
  // What a page of evil.example sends once its name resolves to 127.0.0.1 (DNS rebinding).
  UniqueFd fd = connect_to(port_);
  ASSERT_TRUE(send_all(fd.get(), "GET /config.yaml HTTP/1.1\r\nHost: evil.example:" + port + "\r\nConnection: close\r\n\r\n"));
  const std::string reply = read_for(fd.get(), std::chrono::seconds(2));
  EXPECT_EQ(reply.rfind("HTTP/1.1 421", 0), 0u) << reply;
  EXPECT_EQ(reply.find("stages"), std::string::npos);
  for (const std::string& host : {"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port}) {
    UniqueFd ok = connect_to(port_);
    ASSERT_TRUE(send_all(ok.get(), "GET /config.yaml HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"));
    EXPECT_EQ(read_for(ok.get(), std::chrono::seconds(2)).rfind("HTTP/1.1 200", 0), 0u) << host;
  }
  const RunResult r = stop(daemon);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

TEST_F(HttpSecurity, TheTokenGuardsEverythingButTheProbes) {
  write("token", "0123456789abcdef-token\n");
  RunningProgram daemon = start(25, 8, ", token_file: token");
  for (const char* path : {"/metrics", "/status.json", "/config.yaml", "/", "/preview.jpg", "/stream.mjpg"}) {
    const Exchange e = http_get(port_, path);
    EXPECT_EQ(e.status, 401) << path;
    EXPECT_NE(e.head.find("WWW-Authenticate: Bearer"), std::string::npos) << path;
  }
  EXPECT_EQ(http_get(port_, "/metrics", "Authorization: Bearer wrong-token-0123456\r\n").status, 401);
  EXPECT_EQ(http_get(port_, "/metrics", "Authorization: Bearer 0123456789abcdef-token\r\n").status, 200);
  // A browser's login prompt: any user, the token as password ("u:0123456789abcdef-token").
  EXPECT_EQ(http_get(port_, "/", "Authorization: Basic dTowMTIzNDU2Nzg5YWJjZGVmLXRva2Vu\r\n").status, 200);
  EXPECT_EQ(http_get(port_, "/healthz").status, 200);
  const Exchange ready = http_get(port_, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  const RunResult r = stop(daemon);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.err.find("0123456789abcdef-token"), std::string::npos) << "the token is never shown";
}

TEST_F(HttpSecurity, MetricsCanBePublicBesideATokenForTheRest) {
  write("token", "0123456789abcdef-token\n");
  RunningProgram daemon = start(25, 6, ", token_file: token, metrics_public: true");
  EXPECT_EQ(http_get(port_, "/metrics").status, 200);
  EXPECT_EQ(http_get(port_, "/status.json").status, 401);
  const RunResult r = stop(daemon);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

TEST_F(HttpSecurity, EveryAnswerCarriesSecurityHeadersAndThePageAPolicy) {
  RunningProgram daemon = start(25, 6);
  for (const char* path : {"/", "/metrics", "/healthz", "/status.json", "/status.js", "/nothing-here"}) {
    const Exchange e = http_get(port_, path);
    EXPECT_NE(e.head.find("X-Content-Type-Options: nosniff"), std::string::npos) << path;
    EXPECT_NE(e.head.find("X-Frame-Options: DENY"), std::string::npos) << path;
    EXPECT_NE(e.head.find("Cache-Control: no-store"), std::string::npos) << path;
  }
  const Exchange page = http_get(port_, "/");
  EXPECT_NE(page.head.find("Content-Security-Policy: default-src 'none'; script-src 'self'"), std::string::npos)
      << page.head;
  EXPECT_EQ(page.body.find("<script>"), std::string::npos) << "no inline script: the policy allows none";
  EXPECT_EQ(http_get(port_, "/nothing-here").status, 404);
  const RunResult r = stop(daemon);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

}  // namespace
}  // namespace cvpipe
