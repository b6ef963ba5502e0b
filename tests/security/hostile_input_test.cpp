// Media and configs made to hurt: a tiny file that announces enormous frames, a container memory
// limit smaller than what the slots need, a YAML alias bomb, a config that cannot be read without
// blocking. Each gets a clear error with its documented exit code, quickly, and never an OOM kill
// or a hang; a reload of such a config leaves the probes answering.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "tests/integration/cli_test_util.hpp"
#include "tests/support/net_util.hpp"
#include "tests/support/stream_server.hpp"

namespace cvpipe {
namespace {

using test::http_get;
using test::wait_until;

// A JPEG of 16x16 pixels whose frame header (SOF0) says it is `width` x `height`.
std::vector<uchar> jpeg_announcing(int width, int height) {
  std::vector<uchar> jpeg;
  EXPECT_TRUE(cv::imencode(".jpg", cv::Mat(16, 16, CV_8UC3, cv::Scalar(40, 80, 120)), jpeg));
  for (std::size_t i = 0; i + 8 < jpeg.size(); ++i)
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {  // FF C0, length (2), precision (1), height, width
      jpeg[i + 5] = static_cast<uchar>(height >> 8);
      jpeg[i + 6] = static_cast<uchar>(height & 0xFF);
      jpeg[i + 7] = static_cast<uchar>(width >> 8);
      jpeg[i + 8] = static_cast<uchar>(width & 0xFF);
      return jpeg;
    }
  ADD_FAILURE() << "no SOF0 in OpenCV's JPEG";
  return jpeg;
}

// "Billion laughs" in 9 levels of 9 aliases: a few hundred bytes, 387 million values expanded.
std::string alias_bomb() {
  std::string bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) bomb += std::string(i ? "," : "") + "*" + static_cast<char>(c - 1);
    bomb += "]\n";
  }
  return bomb;
}

const char* const kStages = "stages: [{name: blur, workers: 1, ops: [{op: gaussian_blur, ksize: 3}]}]\n";

using HostileInput = CvpipeTest;

TEST_F(HostileInput, AFileAnnouncingHugeFramesIsRefusedWithoutAllocatingThem) {
  const std::vector<uchar> jpeg = jpeg_announcing(16000, 16000);
  {
    std::ofstream out(path("huge.mjpeg"), std::ios::binary);
    for (int i = 0; i < 5; ++i) out.write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
  }
  ASSERT_LT(std::filesystem::file_size(path("huge.mjpeg")), 10'000u) << "a tiny file";
  const std::string config = write("p.yaml", "source: {type: file, path: huge.mjpeg}\n" + std::string(kStages) +
                                                 "sink: {type: video, path: out.mkv}\n");
  for (const char* verb : {"validate", "run"}) {
    const RunResult r = run_cvpipe({verb, config}, std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 66) << describe(r);
    // A raw MJPEG says its size only in its frames, which the decoder refuses to make.
    EXPECT_NE(r.err.find("no frame could be decoded (damaged, or frames larger than 33177600 pixels, "
                         "limits.max_frame_pixels)"),
              std::string::npos)
        << describe(r);
    EXPECT_FALSE(exists(path("out.mkv")));
  }
}

TEST_F(HostileInput, FramesBeyondTheConfiguredLimitAreRefusedEvenWhenSmall) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), {320, 240}, 3));
  const std::string config = write("p.yaml", "source: {type: file, path: clip.mkv}\n" + std::string(kStages) +
                                                 "sink: {type: \"null\"}\nlimits: {max_frame_pixels: 50000}\n");
  const RunResult r = run_cvpipe({"run", config}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 66) << describe(r);
  EXPECT_NE(r.err.find("320x240"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("more than 50000 pixels (limits.max_frame_pixels)"), std::string::npos) << describe(r);
}

// The slots of a 1080p pipeline (about 80 MiB) fit in this machine's RAM but not in a container
// limited to 96 MiB: the check uses the cgroup's memory.max (CVPIPE_CGROUP_ROOT stands in for it).
TEST_F(HostileInput, TheSlotsMustFitTheContainersMemoryLimitNotOnlyTheMachines) {
  std::filesystem::create_directories(path("cgroup"));
  write("cgroup/memory.max", std::to_string(96 << 20) + "\n");
  const std::string config = write("p.yaml", "source: {type: synthetic, width: 1920, height: 1080, frames: 5}\n" +
                                                 std::string(kStages) + "sink: {type: \"null\"}\nbuffers: {slots: 12}\n");
  ::setenv("CVPIPE_CGROUP_ROOT", path("cgroup").c_str(), 1);
  const RunResult limited = run_cvpipe({"validate", config}, std::chrono::seconds(30));
  write("cgroup/memory.max", "max\n");
  const RunResult unlimited = run_cvpipe({"validate", config}, std::chrono::seconds(30));
  ::unsetenv("CVPIPE_CGROUP_ROOT");
  EXPECT_EQ(limited.exit_code, 78) << describe(limited);
  EXPECT_NE(limited.err.find("buffers.slots: 12 slots of 5.9 MiB frames need"), std::string::npos) << describe(limited);
  EXPECT_NE(limited.err.find("container's memory limit"), std::string::npos) << describe(limited);
  EXPECT_EQ(unlimited.exit_code, 0) << describe(unlimited);
}

TEST_F(HostileInput, AnAliasBombIsRefusedAtOnce) {
  const std::string config =
      write("p.yaml", "source: {type: synthetic, width: 64, height: 48, frames: 5}\n" + std::string(kStages) +
                          "sink: {type: \"null\"}\n" + alias_bomb());
  ASSERT_LT(std::filesystem::file_size(config), 1000u);
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = run_cvpipe({"validate", config}, std::chrono::seconds(20));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(r.exit_code, 78) << describe(r);
  EXPECT_NE(r.err.find("expand it to more than 100000 values: refused"), std::string::npos) << describe(r);
}

// A camera that accepts the connection and never answers: validate waits for it (open_timeout),
// and a SIGTERM ends that wait.
TEST_F(HostileInput, ValidateStopsOnSigtermWhileASourceHangs) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 8), 0);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string config =
      write("p.yaml", "source: {type: url, url: \"http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) +
                          "/video\", open_timeout: 60}\n" + std::string(kStages) + "sink: {type: \"null\"}\n");
  RunningProgram validate = start_cvpipe({"validate", config});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_FALSE(validate.has_exited()) << describe(finish_cvpipe(validate));
  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(validate.pid(), SIGTERM), 0);
  const RunResult r = finish_cvpipe(validate, std::chrono::seconds(20));
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(3));
  EXPECT_TRUE(r.signaled && r.exit_code == 128 + SIGTERM) << describe(r);
}

// SIGHUP with a config that is a bomb, or whose secret is a FIFO nobody writes: the reload fails
// in one line, the running config stays, and the probes never stop answering.
TEST_F(HostileInput, AReloadOfAHostileConfigNeitherStallsTheProbesNorStopsTheRun) {
  const int port = test::free_port();
  ASSERT_GT(port, 0);
  const std::string good = "source: {type: synthetic, width: 160, height: 120, fps: 25, frames: 200, pace: realtime}\n" +
                           std::string(kStages) + "sink: {type: \"null\"}\nlog: {stats_interval: 0}\n"
                           "http: {listen: 127.0.0.1:" + std::to_string(port) + "}\n";
  const std::string config = write("p.yaml", good);
  ASSERT_EQ(::mkfifo(path("secret.fifo").c_str(), 0600), 0);
  RunningProgram daemon = start_cvpipe({"run", config});
  ASSERT_TRUE(wait_until([&] { return http_get(port, "/readyz").status == 200 || daemon.has_exited(); },
                         std::chrono::seconds(10)));
  double slowest_ms = 0;
  int failed = 0;
  for (const std::string& hostile : {good + alias_bomb(), good + "results: {path: !file secret.fifo}\n"}) {
    write("p.yaml", hostile);
    ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
    for (int i = 0; i < 20; ++i) {
      const test::Exchange e = http_get(port, "/healthz", "", std::chrono::seconds(2));
      if (e.status != 200) ++failed;
      slowest_ms = std::max(slowest_ms, e.ms);
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(daemon, std::chrono::seconds(20));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(failed, 0);
  EXPECT_LT(slowest_ms, 500) << "a probe waited for the reload";
  EXPECT_NE(r.err.find("expand it to more than 100000 values: refused"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("secret.fifo (!file): not a regular file"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("the running config stays"), std::string::npos) << describe(r);
}

}  // namespace
}  // namespace cvpipe
