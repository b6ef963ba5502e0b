// Checks every registered source type (hidden ones included) against the source contract, so a new
// type is covered without new test code: its example parses as a document's source section, describe
// mode documents its keys, an unknown key is reported with a suggestion, its spec names its type, it
// registers from its own file in a module folder, and opening it either gives a source whose first
// frame is exactly its format or throws InputError. One case per type and check
// (Sources/SourceConformance.<check>/<type>), so a type that fails hides no other.
//
// An example is written for a user's machine: here a file source reads a clip the test makes, and a
// stream source connects to a port that refuses (adapt_to_this_machine). Opening runs in a child
// process with a bound on its time, so a crash or a hang fails its own case only.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <opencv2/videoio.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/core/errors.hpp"
#include "pipeline/core/unique_fd.hpp"
#include "pipeline/runtime/source.hpp"
#include "tests/support/test_child.hpp"
#include "tests/unit/op_test_util.hpp"

namespace cvpipe {
namespace {

using namespace std::chrono_literals;
using test::all_names;
using test::document_with_section;
using test::parse_document;

// How long opening a source and reading its first frame may take here: far more than any type needs
// (a refused connection, a small clip); a case that reaches it has hung.
constexpr auto kOpenBound = 5s;

// The document around the source section.
const std::string kRestOfDocument = "stages:\n  - name: s\n    ops:\n      - op: identity\nsink:\n  type: null\n";

std::string document_with_source(const YAML::Node& section, const std::vector<std::string>& extra = {},
                                 int* extra_line = nullptr) {
  return document_with_section("", "source", section, extra, kRestOfDocument, extra_line);
}

// A TCP port on 127.0.0.1 that refuses connections while this lives: bound, never listening.
class RefusingPort {
 public:
  RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (!fd_ || ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&address), size) != 0 ||
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      ADD_FAILURE() << "cannot bind a port on 127.0.0.1";
      return;
    }
    port_ = ntohs(address.sin_port);
  }
  int port() const noexcept { return port_; }

 private:
  UniqueFd fd_;
  int port_ = 0;
};

// What opening a source's example in a child process did, as the child reports it.
struct OpenReport {
  std::string outcome;   // opened, input_error, other_exception, no_source
  std::string message;   // the exception's
  FrameFormat format;    // format(), once opened
  std::string read;      // the first read(): frame, end, error, threw
  FrameFormat frame;     // what that read left in the buffer it was given
  bool same_buffer = false;
  std::string read_error;
};

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// argv: a document, the folder its relative paths are relative to, the file to write the report to.
// Opens the document's source and reads one frame, as `run` does before it starts its workers.
CVPIPE_TEST_CHILD(source_conformance_open) {
  if (argc != 3) return 2;
  setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);  // as the daemon: its own line says what went wrong
  std::ofstream report(argv[2]);
  const PipelineConfig config = parse_config_text(argv[0], "conformance.yaml", argv[1], {});
  std::unique_ptr<Source> source;
  try {
    source = config.source.open(config.source_limits);
  } catch (const InputError& e) {
    report << "outcome input_error\nmessage " << one_line(e.what()) << "\n";
    return 0;
  } catch (const std::exception& e) {
    report << "outcome other_exception\nmessage " << one_line(e.what()) << "\n";
    return 0;
  } catch (...) {
    report << "outcome other_exception\nmessage (not a std::exception)\n";
    return 0;
  }
  if (!source) {
    report << "outcome no_source\n";
    return 0;
  }
  const FrameFormat f = source->format();
  report << "outcome opened\nformat " << f.width << " " << f.height << " " << f.type << "\n" << std::flush;
  cv::Mat into;
  if (f.width > 0 && f.height > 0) into.create(f.height, f.width, f.type);
  const uchar* const data = into.data;
  FrameMeta meta;
  std::string error;
  try {
    const Source::Read r = source->read(into, meta, error);
    report << "read " << (r == Source::Read::kFrame ? "frame" : r == Source::Read::kEnd ? "end" : "error") << "\n";
  } catch (const std::exception& e) {
    report << "read threw\nread_error " << one_line(e.what()) << "\n";
    return 0;
  }
  report << "frame " << into.cols << " " << into.rows << " " << into.type() << "\n"
         << "same_buffer " << (into.data == data && data != nullptr) << "\n"
         << "read_error " << one_line(error) << "\n";
  return 0;
}

OpenReport read_report(const std::string& path) {
  OpenReport r;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t space = line.find(' ');
    const std::string key = line.substr(0, space);
    const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    std::istringstream v(value);
    if (key == "outcome") r.outcome = value;
    else if (key == "message") r.message = value;
    else if (key == "format") v >> r.format.width >> r.format.height >> r.format.type;
    else if (key == "read") r.read = value;
    else if (key == "frame") v >> r.frame.width >> r.frame.height >> r.frame.type;
    else if (key == "same_buffer") r.same_buffer = value == "1";
    else if (key == "read_error") r.read_error = value;
  }
  return r;
}

// What opening a type's example must do on this machine (see adapt_to_this_machine).
enum class Opening { kOpens, kThrowsInputError, kEither };

void PrintTo(Opening o, std::ostream* os) {
  *os << (o == Opening::kOpens ? "opens" : o == Opening::kThrowsInputError ? "throws InputError" : "either");
}

Opening expected_opening(const std::string& type) {
  if (type == "synthetic" || type == "file") return Opening::kOpens;
  if (type == "url") return Opening::kThrowsInputError;  // its port refuses
  if (type == "camera") return ::access("/dev/video0", F_OK) == 0 ? Opening::kEither : Opening::kThrowsInputError;
  return Opening::kEither;
}

TEST(SourceConformance, RegistryIsNotEmpty) { EXPECT_FALSE(SourceRegistry::instance().all(true).empty()); }

TEST(SourceConformance, EveryRegisteredTypeHasItsOwnCases) {
  EXPECT_EQ(test::instantiated_cases("Sources/SourceConformance", "ExampleParsesWithoutErrors"),
            test::case_names(SourceRegistry::instance()));
}

// One registered source type, by name, and a folder for its files.
class SourceConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    info_ = SourceRegistry::instance().find(GetParam());
    ASSERT_NE(info_, nullptr) << "no source type named " << GetParam();
    ASSERT_FALSE(dir_.path().empty());
  }
  const SourceInfo& info() const { return *info_; }

  // The example as a section with its type, made to run here.
  YAML::Node section() {
    YAML::Node s = test::example_section(info());
    if (s.IsMap()) adapt_to_this_machine(s);
    return s;
  }

  // What an example needs to run on this machine rather than on a user's: a real clip where it
  // reads a file, a port that refuses where it connects to a stream, with timeouts short enough for
  // a test. Any other type runs its example as written.
  void adapt_to_this_machine(YAML::Node& s) {
    if (info().name == "file") s["path"] = make_clip("clip.avi");
    if (info().name == "url") {
      if (!port_) port_.emplace();
      const YAML::Node& example = s;
      const std::string given = example["url"] ? example["url"].Scalar() : "";
      const std::size_t scheme = given.find("://");
      s["url"] = (scheme == std::string::npos ? "rtsp" : given.substr(0, scheme)) + "://127.0.0.1:" +
                 std::to_string(port_->port()) + "/stream";
      s["open_timeout"] = 1;
      s["read_timeout"] = 1;
    }
  }

  // A small MJPG clip in the folder; returns its name there (relative paths are relative to it).
  std::string make_clip(const std::string& name) {
    const std::string path = dir_.file(name);
    if (std::filesystem::exists(path)) return name;
    cv::VideoWriter writer(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25, cv::Size(64, 48));
    EXPECT_TRUE(writer.isOpened()) << path;
    for (int i = 0; i < 5; ++i) writer.write(test::test_frame(64, 48, CV_8UC3, static_cast<std::uint64_t>(i)));
    return name;
  }

  // The source spec of the example, or nullopt with a test failure.
  std::optional<SourceSpec> parsed_example() {
    const test::ParsedConfig parsed = parse_document(document_with_source(section()), dir_.path());
    if (!parsed.config) {
      ADD_FAILURE() << "the example has errors:\n" << parsed.errors_text();
      return std::nullopt;
    }
    return parsed.config->source;
  }

  test::TempDir dir_;

 private:
  const SourceInfo* info_ = nullptr;
  std::optional<RefusingPort> port_;
};

TEST_P(SourceConformance, ExampleIsAMappingOfTheSectionsKeysNamingNoOtherType) {
  YAML::Node example;
  ASSERT_NO_THROW(example = load_yaml_document(info().example)) << info().example;
  ASSERT_TRUE(example.IsMap()) << info().example;
  const YAML::Node& given = example;
  if (given["type"]) {
    EXPECT_EQ(given["type"].Scalar(), info().name) << info().example;
  }
}

TEST_P(SourceConformance, ExampleParsesWithoutErrors) {
  const test::ParsedConfig parsed = parse_document(document_with_source(section()), dir_.path());
  EXPECT_TRUE(parsed.config) << parsed.errors_text();
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors_text();
}

TEST_P(SourceConformance, SummaryIsOneLine) {
  EXPECT_FALSE(info().summary.empty());
  EXPECT_EQ(info().summary.find('\n'), std::string::npos) << info().summary;
}

TEST_P(SourceConformance, SpecNamesItsTypeAndDescribesItself) {
  const std::optional<SourceSpec> spec = parsed_example();
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->type, info().name);
  EXPECT_FALSE(spec->description.empty());
  EXPECT_TRUE(spec->open);
  if (!spec->path.empty()) {
    EXPECT_TRUE(std::filesystem::is_regular_file(spec->path)) << spec->path;
  }
}

const test::SectionDocument source_document = [](const YAML::Node& s, const std::vector<std::string>& extra, int* line) {
  return document_with_source(s, extra, line);
};

TEST_P(SourceConformance, DescribeModeDocumentsEveryKeyOfTheExample) {
  test::expect_example_keys_documented(test::example_section(info()), info().parse);
}

TEST_P(SourceConformance, EveryDocumentedKeyIsAKeyOfTheSection) {
  test::expect_documented_keys_accepted(section(), info().parse, dir_.path(), source_document);
}

TEST_P(SourceConformance, UnknownKeyIsAnErrorNamingItWithASuggestion) {
  test::expect_unknown_keys_reported(section(), "source", dir_.path(),
                                     source_document);
}

TEST_P(SourceConformance, RegistersFromItsOwnFileInAModuleFolder) { test::expect_registered_from_own_file(info(), "source"); }

TEST_P(SourceConformance, OpensAndReadsAFrameOfExactlyItsFormatOrThrowsInputError) {
  const std::string document = document_with_source(section());
  const test::ParsedConfig parsed = parse_document(document, dir_.path());
  ASSERT_TRUE(parsed.config) << parsed.errors_text();

  const std::string report_path = dir_.file("open-report.txt");
  const auto started = std::chrono::steady_clock::now();
  ChildProcess child = ChildProcess::spawn(test_child_argv("source_conformance_open", {document, dir_.path(), report_path}));
  const ChildProcess::ExitStatus status = wait_at_most(child, kOpenBound);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_LT(took, kOpenBound) << "opening and reading one frame did not end within the bound";
  ASSERT_EQ(status, (ChildProcess::ExitStatus{false, 0})) << "opening crashed: " << status.describe();

  const OpenReport r = read_report(report_path);
  const Opening expected = expected_opening(info().name);
  if (r.outcome == "input_error") {
    EXPECT_NE(expected, Opening::kOpens) << "InputError: " << r.message;
    EXPECT_FALSE(r.message.empty());
    return;
  }
  ASSERT_EQ(r.outcome, "opened") << r.message;
  EXPECT_NE(expected, Opening::kThrowsInputError) << "opened, where it cannot";
  EXPECT_GT(r.format.width, 0);
  EXPECT_GT(r.format.height, 0);
  EXPECT_TRUE(r.format.is_8bit_gray_or_bgr()) << r.format.describe();
  ASSERT_EQ(r.read, "frame") << r.read_error;
  EXPECT_EQ(r.frame, r.format) << r.frame.describe() << " from a source of " << r.format.describe();
  EXPECT_TRUE(r.same_buffer) << "read() put the frame in a buffer of its own, not in the one it was given";
}

INSTANTIATE_TEST_SUITE_P(Sources, SourceConformance, ::testing::ValuesIn(all_names(SourceRegistry::instance())),
                         test::case_name);

}  // namespace
}  // namespace cvpipe
