// The output folder removed while the daemon writes into it: one clear line, exit 73, no hang.
#include <filesystem>
#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

class VanishedOutput : public CvpipeTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(VanishedOutput, StopsTheRunWithCantCreateAndSaysWhy) {
  const std::string sink = GetParam() == "video" ? "{type: video, path: gone/out.avi, fourcc: MJPG}"
                                                 : "{type: images, path: gone/%04d.png}";
  const std::string config = write("v.yaml", "source: {type: synthetic, width: 160, height: 120, fps: 100, "
                                             "frames: 1000, pace: realtime}\n"
                                             "stages:\n  - name: copy\n    ops: [{op: identity}]\n"
                                             "sink: " + sink + "\n");
  RunningProgram daemon = start_cvpipe({"run", config});
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!exists(path("gone")) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  std::this_thread::sleep_for(500ms);
  // Moved away in one step: remove_all could race with the writer adding a file and fail.
  std::filesystem::rename(path("gone"), path("moved"));
  const RunResult r = finish_cvpipe(daemon, 30s);

  EXPECT_EQ(r.exit_code, 73) << describe(r);
  const std::string expected = GetParam() == "video" ? "was removed" : "No such file or directory";
  EXPECT_NE(r.err.find(expected), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_LT(s.integer("frames_read"), 1000) << "the run stops at the error";
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
}

INSTANTIATE_TEST_SUITE_P(Sinks, VanishedOutput, ::testing::Values("video", "images"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace cvpipe
