// Checks every registered sink type (hidden ones included) against the sink contract, so a new type
// is covered without new test code: its example parses as a document's sink section (its relative
// paths relative to a temporary folder), describe mode documents its keys, an unknown key is reported
// with a suggestion, its spec names its type, it registers from its own file in a module folder, it
// takes 8-bit BGR frames and says why it refuses a format, and it writes three frames that read back
// with OpenCV. One case per type and check (Sinks/SinkConformance.<check>/<type>), so a type that
// fails hides no other.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pipeline/runtime/sink.hpp"
#include "tests/unit/op_test_util.hpp"

namespace cvpipe {
namespace {

using test::all_names;
using test::document_with_section;
using test::parse_document;

// The frames written: what the document's source gives.
const FrameFormat kFormat{64, 48, CV_8UC3};
constexpr double kFps = 25;
constexpr int kFrames = 3;

const std::string kDocumentBefore =
    "source:\n  type: synthetic\n  width: 64\n  height: 48\n  frames: 3\n"
    "stages:\n  - name: s\n    ops:\n      - op: identity\n";

std::string document_with_sink(const YAML::Node& section, const std::vector<std::string>& extra = {},
                               int* extra_line = nullptr) {
  return document_with_section(kDocumentBefore, "sink", section, extra, "", extra_line);
}

TEST(SinkConformance, RegistryIsNotEmpty) { EXPECT_FALSE(SinkRegistry::instance().all(true).empty()); }

TEST(SinkConformance, EveryRegisteredTypeHasItsOwnCases) {
  EXPECT_EQ(test::instantiated_cases("Sinks/SinkConformance", "ExampleParsesWithoutErrors"),
            test::case_names(SinkRegistry::instance()));
}

// One registered sink type, by name, and a folder its example's relative paths are relative to.
class SinkConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    info_ = SinkRegistry::instance().find(GetParam());
    ASSERT_NE(info_, nullptr) << "no sink type named " << GetParam();
    ASSERT_FALSE(dir_.path().empty());
  }
  const SinkInfo& info() const { return *info_; }

  // The sink spec of the example, or nullopt with a test failure.
  std::optional<SinkSpec> parsed_example() {
    const test::ParsedConfig parsed = parse_document(document_with_sink(test::example_section(info())), dir_.path());
    if (!parsed.config) {
      ADD_FAILURE() << "the example has errors:\n" << parsed.errors_text();
      return std::nullopt;
    }
    return parsed.config->sink;
  }

  // Whether the example names a file to write (a `path`), so that it must leave one.
  bool writes_files() const {
    const YAML::Node example = test::example_section(info());
    return example.IsMap() && example["path"];
  }

  test::TempDir dir_;

 private:
  const SinkInfo* info_ = nullptr;
};

TEST_P(SinkConformance, ExampleIsAMappingOfTheSectionsKeysNamingNoOtherType) {
  YAML::Node example;
  ASSERT_NO_THROW(example = load_yaml_document(info().example)) << info().example;
  ASSERT_TRUE(example.IsMap()) << info().example;
  const YAML::Node& given = example;
  if (given["type"]) {
    EXPECT_EQ(given["type"].Scalar(), info().name) << info().example;
  }
}

TEST_P(SinkConformance, ExampleParsesWithoutErrors) {
  const test::ParsedConfig parsed = parse_document(document_with_sink(test::example_section(info())), dir_.path());
  EXPECT_TRUE(parsed.config) << parsed.errors_text();
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors_text();
}

TEST_P(SinkConformance, SummaryIsOneLine) {
  EXPECT_FALSE(info().summary.empty());
  EXPECT_EQ(info().summary.find('\n'), std::string::npos) << info().summary;
}

TEST_P(SinkConformance, SpecNamesItsTypeAndDescribesItself) {
  const std::optional<SinkSpec> spec = parsed_example();
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->type, info().name);
  EXPECT_FALSE(spec->description.empty());
  EXPECT_TRUE(spec->check_format);
  EXPECT_TRUE(spec->open);
  // Relative to the document's folder.
  if (!spec->path.empty()) {
    EXPECT_EQ(spec->path.rfind(dir_.path() + "/", 0), 0u) << spec->path;
  }
}

const test::SectionDocument sink_document = [](const YAML::Node& s, const std::vector<std::string>& extra, int* line) {
  return document_with_sink(s, extra, line);
};

TEST_P(SinkConformance, DescribeModeDocumentsEveryKeyOfTheExample) {
  test::expect_example_keys_documented(test::example_section(info()), info().parse);
}

TEST_P(SinkConformance, EveryDocumentedKeyIsAKeyOfTheSection) {
  test::expect_documented_keys_accepted(test::example_section(info()), info().parse, dir_.path(), sink_document);
}

TEST_P(SinkConformance, UnknownKeyIsAnErrorNamingItWithASuggestion) {
  test::expect_unknown_keys_reported(test::example_section(info()), "sink", dir_.path(),
                                     sink_document);
}

TEST_P(SinkConformance, RegistersFromItsOwnFileInAModuleFolder) { test::expect_registered_from_own_file(info(), "sink"); }

TEST_P(SinkConformance, TakesBgrFramesAndSaysWhyItRefusesAFormat) {
  const std::optional<SinkSpec> spec = parsed_example();
  ASSERT_TRUE(spec && spec->check_format);
  const FrameFormat bgr{640, 480, CV_8UC3};
  EXPECT_EQ(spec->check_format(bgr), "") << "refuses " << bgr.describe();
  // A refusal is a config error a person reads: it names what the pipeline would give the sink.
  for (const FrameFormat f : {FrameFormat{640, 480, CV_32FC1}, FrameFormat{640, 480, CV_8UC4}}) {
    const std::string why = spec->check_format(f);
    if (!why.empty()) {
      EXPECT_NE(why.find(f.describe()), std::string::npos) << f.describe() << ": " << why;
    }
  }
}

// Every file under `dir`, recursively.
std::vector<std::filesystem::path> files_under(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// The frames in `file` as OpenCV reads it back: one for an image, each frame of a video (each
// checked for kFormat's size); -1 when OpenCV cannot read it.
int frames_in(const std::filesystem::path& file) {
  if (cv::haveImageReader(file.string())) {
    const cv::Mat image = cv::imread(file.string(), cv::IMREAD_UNCHANGED);
    if (image.empty()) return -1;
    EXPECT_EQ(test::format_of(image), kFormat) << file;
    return 1;
  }
  cv::VideoCapture video(file.string(), cv::CAP_FFMPEG);
  if (!video.isOpened()) return -1;
  int frames = 0;
  cv::Mat frame;
  while (frames < 100 && video.read(frame)) {
    EXPECT_EQ(frame.cols, kFormat.width) << file;
    EXPECT_EQ(frame.rows, kFormat.height) << file;
    ++frames;
  }
  return frames;
}

TEST_P(SinkConformance, WritesThreeFramesThatReadBack) {
  const std::optional<SinkSpec> spec = parsed_example();
  ASSERT_TRUE(spec && spec->open);
  std::unique_ptr<Sink> sink;
  try {
    sink = spec->open(kFormat, kFps);
  } catch (const std::exception& e) {
    FAIL() << "cannot open in " << dir_.path() << ": " << e.what();
  }
  ASSERT_TRUE(sink);
  for (int i = 0; i < kFrames; ++i) {
    FrameMeta meta;
    meta.seq = static_cast<std::uint64_t>(i);
    meta.pts_us = i * 40'000;
    const Status written = sink->write(test::test_frame(kFormat.width, kFormat.height, kFormat.type, static_cast<std::uint64_t>(i)), meta);
    ASSERT_TRUE(written) << "frame " << i << ": " << written.message();
  }
  const Status closed = sink->close();
  ASSERT_TRUE(closed) << closed.message();
  EXPECT_EQ(sink->frames_written(), kFrames);

  if (!spec->path.empty()) {
    EXPECT_TRUE(std::filesystem::is_regular_file(spec->path)) << spec->path;
  }
  int frames_on_disk = 0;
  for (const std::filesystem::path& file : files_under(dir_.path())) {
    const int frames = frames_in(file);
    EXPECT_GE(frames, 0) << "OpenCV cannot read " << file << " back";
    frames_on_disk += std::max(frames, 0);
  }
  if (writes_files() || !spec->path.empty()) {
    EXPECT_EQ(frames_on_disk, kFrames);
  } else {
    EXPECT_EQ(frames_on_disk, 0) << "wrote files, with no path to write them to";
  }
}

INSTANTIATE_TEST_SUITE_P(Sinks, SinkConformance, ::testing::ValuesIn(all_names(SinkRegistry::instance())),
                         test::case_name);

}  // namespace
}  // namespace cvpipe
