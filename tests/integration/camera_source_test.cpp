// The camera source where there is no camera (as on CI): `validate` and `run` (told not to wait
// for it: reconnect.at_start: false) say which device could not be opened and why, in one line,
// and exit 66 like any input that cannot be opened.
// With a webcam, see README.md ("Testing with a webcam").
#include <sstream>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

using CameraSource = CvpipeTest;

std::vector<std::string> non_empty_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

std::string camera_config(const std::string& device) {
  return "source:\n  type: camera\n  device: " + device +
         "\n  width: 640\n  height: 480\n  fourcc: MJPG\n  reconnect: {at_start: false}\nstages:\n  - name: a\n    ops: [{op: identity}]\n"
         "sink: {type: images, path: out/%06d.jpg}\n";
}

TEST_F(CameraSource, AMissingDeviceExitsNoInputInOneLine) {
  const std::string device = path("video-missing");  // surely absent
  for (const char* verb : {"validate", "run"}) {
    const RunResult r = run_cvpipe({verb, write("cam.yaml", camera_config(device))}, 30s);
    EXPECT_EQ(r.exit_code, 66) << describe(r);
    const std::vector<std::string> lines = non_empty_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << describe(r);
    EXPECT_EQ(lines[0], "cvpipe: input error: cannot open camera " + device +
                            ": No such file or directory (is the camera plugged in? ls /dev/video* lists the devices)")
        << describe(r);
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(exists(path("out")));
}

TEST_F(CameraSource, AFileThatIsNotADeviceExitsNoInput) {
  write("not-a-camera", "hello");
  const RunResult r = run_cvpipe({"validate", write("cam.yaml", camera_config(path("not-a-camera")))}, 30s);
  EXPECT_EQ(r.exit_code, 66) << describe(r);
  EXPECT_NE(r.err.find("cannot open camera " + path("not-a-camera") + ": not a video device"), std::string::npos)
      << describe(r);
}

TEST_F(CameraSource, BadKeysAreConfigErrors) {
  const RunResult r = run_cvpipe(
      {"validate", write("cam.yaml", "source:\n  type: camera\n  device: video0\n  width: 640\n  fourcc: MJPEG\n"
                                     "stages:\n  - name: a\n    ops: [{op: identity}]\nsink: {type: null}\n")},
      30s);
  EXPECT_EQ(r.exit_code, 78) << describe(r);
  EXPECT_NE(r.err.find("cam.yaml:3:11: source.device: expected a device index"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("source.height: width and height go together"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("cam.yaml:5:11: source.fourcc: expected four characters"), std::string::npos) << describe(r);
}

TEST_F(CameraSource, TheShippedWebcamConfigIsValid) {
  const RunResult r = run_cvpipe({"validate", source_path("config/webcam.yaml")}, 30s);
  if (exists("/dev/video0")) {  // a machine with a webcam: the config opens it
    EXPECT_EQ(r.exit_code, 0) << describe(r);
  } else {
    EXPECT_EQ(r.exit_code, 66) << "every key is right; only the camera is missing\n" << describe(r);
    EXPECT_NE(r.err.find("cannot open camera /dev/video0"), std::string::npos) << describe(r);
  }
}

}  // namespace
}  // namespace cvpipe
