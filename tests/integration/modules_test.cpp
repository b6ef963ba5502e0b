// The daemon loads a module's libraries only when its config names one of the module's types
// (pipeline/runtime/io_module.hpp): loading OpenCV's videoio was most of its start-up.
#include <fstream>
#include <sstream>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

using Modules = CvpipeTest;

std::string maps_of(pid_t pid) { return read_file("/proc/" + std::to_string(pid) + "/maps"); }

TEST_F(Modules, ARunLoadsOnlyTheModulesItsConfigNames) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), {64, 48}, 8));
  struct Case {
    std::string source, sink;
    bool av, io;  // whether cvpipe-av.so, cvpipe-io.so (and OpenCV's videoio) are loaded
  };
  const Case cases[] = {
      {"{type: synthetic, width: 64, height: 48, frames: 8}", "{type: \"null\"}", false, false},
      {"{type: file, path: clip.mkv}", "{type: \"null\"}", true, false},
      {"{type: file, path: clip.mkv}", "{type: images, path: out/%02d.png}", true, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.source + " -> " + c.sink);
    // 8 frames of 40 ms on one worker: the daemon runs ~0.3 s once its workers are up.
    const std::string config = write("pipeline.yaml", "source: " + c.source +
                                                          "\nstages: [{name: s, workers: 1, ops: [{op: sleep, ms: 40}]}]\n"
                                                          "sink: " + c.sink + "\n");
    RunningProgram daemon = start_cvpipe({"run", config});
    // Spawned once the config is parsed and the source open: its modules are loaded by then.
    ASSERT_EQ(wait_for_workers(daemon, 1).size(), 1u);
    const std::string maps = maps_of(daemon.pid());
    const RunResult r = finish_cvpipe(daemon);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    ASSERT_NE(maps.find("libopencv_core"), std::string::npos) << "no maps read";
    EXPECT_EQ(maps.find("/cvpipe-av.so") != std::string::npos, c.av) << maps;
    EXPECT_EQ(maps.find("/cvpipe-io.so") != std::string::npos, c.io);
    EXPECT_EQ(maps.find("libopencv_videoio") != std::string::npos, c.io);
    // The file source decodes with FFmpeg's libraries, which the daemon itself does not link.
    EXPECT_EQ(maps.find("libavcodec") != std::string::npos, c.av || c.io);
  }
}

TEST_F(Modules, AnUnknownTypeListsTheTypesOfEveryModule) {
  const std::string config = write("pipeline.yaml", "source: {type: fil, path: x.mp4}\n"
                                                    "stages: [{name: s, ops: [{op: identity}]}]\n"
                                                    "sink: {type: vidoe, path: out.mp4}\n");
  const RunResult r = run_cvpipe({"validate", config});
  EXPECT_EQ(r.exit_code, 78) << describe(r);
  EXPECT_NE(r.err.find("unknown source type \"fil\" (did you mean \"file\"?); known types: camera, file, synthetic, url"),
            std::string::npos)
      << describe(r);
  EXPECT_NE(r.err.find("unknown sink type \"vidoe\" (did you mean \"video\"?); known types: images, null, video"),
            std::string::npos)
      << describe(r);
}

}  // namespace
}  // namespace cvpipe
