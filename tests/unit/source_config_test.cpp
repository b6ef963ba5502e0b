// The keys of the url, camera, file and synthetic sources and their reconnect section: read at load time,
// every mistake a config error at its position (nothing is opened here).
#include <gtest/gtest.h>

#include "pipeline/config/pipeline_config.hpp"

namespace cvpipe {
namespace {

std::string config_with_source(const std::string& source) {
  return "source:\n" + source + "stages:\n  - name: s\n    ops:\n      - op: identity\nsink:\n  type: null\n";
}

std::vector<ConfigError> errors_of(const std::string& source) {
  try {
    (void)parse_config_text(config_with_source(source), "p.yaml", "", {});
  } catch (const ConfigException& e) {
    return e.errors();
  }
  return {};
}

std::string all_text(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

TEST(UrlSourceConfig, ReadsTheUrlAndIsLive) {
  const PipelineConfig c = parse_config_text(
      config_with_source("  type: url\n  url: rtsp://admin:secret@cam.local:554/main\n  open_timeout: 3\n"
                         "  read_timeout: 1.5\n  fps: 12.5\n  reconnect:\n    delay: 1\n    max_delay: 8\n"
                         "    attempts: 4\n"),
      "p.yaml", "", {});
  EXPECT_EQ(c.source.type, "url");
  EXPECT_TRUE(c.source.live);
  EXPECT_TRUE(c.source.path.empty());
  // Logs name the stream but never its password.
  EXPECT_EQ(c.source.description, "url rtsp://admin:***@cam.local:554/main");
}

TEST(UrlSourceConfig, DefaultsNeedOnlyTheUrl) {
  EXPECT_TRUE(errors_of("  type: url\n  url: http://127.0.0.1:8080/\n").empty());
}

TEST(UrlSourceConfig, MissingOrSchemelessUrlIsAnError) {
  auto errors = errors_of("  type: url\n");
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_EQ(errors[0].path, "source.url");
  EXPECT_NE(errors[0].message.find("missing required key"), std::string::npos);

  errors = errors_of("  type: url\n  url: cam.local/stream\n");
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_EQ(errors[0].path, "source.url");
  EXPECT_EQ(errors[0].line, 3);
  EXPECT_NE(errors[0].message.find("expected a URL such as rtsp://"), std::string::npos) << errors[0].message;
}

TEST(UrlSourceConfig, TimeoutsAndFpsMustBePositive) {
  const auto errors =
      errors_of("  type: url\n  url: http://h/\n  open_timeout: 0\n  read_timeout: -2\n  fps: 0\n");
  ASSERT_EQ(errors.size(), 3u) << all_text(errors);
  EXPECT_EQ(errors[0].path, "source.open_timeout");
  EXPECT_EQ(errors[1].path, "source.read_timeout");
  EXPECT_EQ(errors[2].path, "source.fps");
}

TEST(UrlSourceConfig, UnknownKeyGetsASuggestion) {
  const auto errors = errors_of("  type: url\n  url: http://h/\n  read_timeot: 3\n");
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_NE(errors[0].message.find("did you mean \"read_timeout\""), std::string::npos) << errors[0].message;
}

TEST(ReconnectConfig, BadValuesAreNamedWithTheirPosition) {
  const auto errors = errors_of(
      "  type: url\n  url: http://h/\n  reconnect:\n    delay: 0\n    attempts: -1\n    retries: 3\n");
  ASSERT_EQ(errors.size(), 3u) << all_text(errors);
  EXPECT_EQ(errors[0].path, "source.reconnect.delay");
  EXPECT_EQ(errors[0].line, 5);
  EXPECT_EQ(errors[1].path, "source.reconnect.attempts");
  EXPECT_EQ(errors[2].path, "source.reconnect.retries");
  EXPECT_NE(errors[2].message.find("unknown key"), std::string::npos) << errors[2].message;
}

TEST(ReconnectConfig, MaxDelayBelowDelayIsAnError) {
  const auto errors = errors_of("  type: url\n  url: http://h/\n  reconnect: {delay: 5, max_delay: 2}\n");
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_EQ(errors[0].path, "source.reconnect.max_delay");
  EXPECT_NE(errors[0].message.find("at least delay (5)"), std::string::npos) << errors[0].message;
}

TEST(ReconnectConfig, MustBeAMapping) {
  const auto errors = errors_of("  type: url\n  url: http://h/\n  reconnect: 3\n");
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_EQ(errors[0].path, "source.reconnect");
}

TEST(ReconnectConfig, IsNotAKeyOfFileSources) {
  const auto errors = errors_of("  type: file\n  path: /\n  reconnect: {delay: 1}\n");
  bool reported = false;
  for (const auto& e : errors) reported = reported || e.path == "source.reconnect";
  EXPECT_TRUE(reported) << all_text(errors);
}

TEST(CameraSourceConfig, DeviceIsAnIndexOrAPath) {
  PipelineConfig c = parse_config_text(config_with_source("  type: camera\n"), "p.yaml", "", {});
  EXPECT_EQ(c.source.type, "camera");
  EXPECT_TRUE(c.source.live);
  EXPECT_EQ(c.source.description, "camera /dev/video0");
  c = parse_config_text(config_with_source("  type: camera\n  device: 2\n"), "p.yaml", "", {});
  EXPECT_EQ(c.source.description, "camera /dev/video2");
  c = parse_config_text(config_with_source("  type: camera\n  device: /dev/v4l/by-id/usb-cam-video-index0\n  "
                                           "width: 1280\n  height: 720\n  fps: 30\n  fourcc: MJPG\n"),
                        "p.yaml", "", {});
  EXPECT_EQ(c.source.description, "camera /dev/v4l/by-id/usb-cam-video-index0");

  for (const char* bad : {"video0", "-1", "[0]", "1.5"}) {
    const auto errors = errors_of(std::string("  type: camera\n  device: ") + bad + "\n");
    ASSERT_EQ(errors.size(), 1u) << bad << "\n" << all_text(errors);
    EXPECT_EQ(errors[0].path, "source.device") << bad;
    EXPECT_NE(errors[0].message.find("device index (0 for /dev/video0) or a path"), std::string::npos) << bad;
  }
}

TEST(CameraSourceConfig, WidthAndHeightGoTogether) {
  const auto errors = errors_of("  type: camera\n  width: 640\n");
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_EQ(errors[0].path, "source.height");
  EXPECT_NE(errors[0].message.find("width and height go together"), std::string::npos);
}

TEST(CameraSourceConfig, FourccIsFourCharactersAndSizesAreInRange) {
  const auto errors = errors_of("  type: camera\n  fourcc: MJPEG\n  width: 8\n  height: 100000\n  fps: 0\n");
  ASSERT_EQ(errors.size(), 4u) << all_text(errors);
  EXPECT_EQ(errors[0].path, "source.fourcc");
  EXPECT_NE(errors[0].message.find("expected four characters"), std::string::npos);
  EXPECT_EQ(errors[1].path, "source.width");
  EXPECT_EQ(errors[2].path, "source.height");
  EXPECT_EQ(errors[3].path, "source.fps");
}

TEST(FileSourceConfig, LoopIsABoolean) {
  const auto errors = errors_of("  type: file\n  path: /\n  loop: 3\n");
  bool reported = false;
  for (const auto& e : errors) reported = reported || e.path == "source.loop";
  EXPECT_TRUE(reported) << all_text(errors);
}

TEST(FileSourceConfig, ThreadsIsACountTheDescriptionShows) {
  auto errors = errors_of("  type: file\n  path: /\n  threads: 65\n");
  bool reported = false;
  for (const auto& e : errors)
    reported = reported || (e.path == "source.threads" && e.message.find("[0, 64]") != std::string::npos);
  EXPECT_TRUE(reported) << all_text(errors);
  const std::string clip = "/proc/self/exe";  // any file that exists: the path is checked, not read
  PipelineConfig c = parse_config_text(config_with_source("  type: file\n  path: " + clip + "\n  threads: 1\n"),
                                       "p.yaml", "", {});
  EXPECT_EQ(c.source.description, "file " + clip + ", decoded on 1 thread");
  c = parse_config_text(config_with_source("  type: file\n  path: " + clip + "\n"), "p.yaml", "", {});
  EXPECT_EQ(c.source.description, "file " + clip);
}

TEST(SyntheticSourceConfig, BufferIsForPaceRealtimeOnly) {
  EXPECT_TRUE(errors_of("  type: synthetic\n  pace: realtime\n  buffer: 8\n").empty());
  auto errors = errors_of("  type: synthetic\n  buffer: 8\n");
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_EQ(errors[0].to_string(), "p.yaml:3:11: source.buffer: only applies with pace: realtime (pace is max: "
                                   "each frame is made when the pipeline takes it, none wait)");
  errors = errors_of("  type: synthetic\n  pace: max\n  buffer: 8\n");
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_EQ(errors[0].path, "source.buffer");
  // A bad pace or buffer is the one error.
  errors = errors_of("  type: synthetic\n  pace: fast\n  buffer: 8\n");
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_EQ(errors[0].path, "source.pace");
  errors = errors_of("  type: synthetic\n  buffer: 0\n");
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_NE(errors[0].message.find("expected an integer in [1, 100000]"), std::string::npos) << all_text(errors);
}

}  // namespace
}  // namespace cvpipe
