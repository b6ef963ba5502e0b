// Input that is not a video exits 66, output that cannot be created exits 73, each with one
// clear line: a file where a folder must be, a folder where a file must be, no permission (run
// as `nobody` when the tests run as root, whom permissions do not stop).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include <opencv2/videoio.hpp>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kExitNoInput = 66;
constexpr int kExitCantCreate = 73;

std::vector<std::string> non_empty_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// Runs cvpipe as `nobody` if the tests run as root; as the test's own user otherwise.
RunResult run_unprivileged(const std::vector<std::string>& args) {
  std::vector<std::string> argv = cvpipe_argv(args);
  if (::geteuid() == 0)
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  return run_program(argv);
}

std::string random_bytes(std::size_t n) {
  cv::RNG rng(42);
  std::string bytes(n, '\0');
  for (char& b : bytes) b = static_cast<char>(rng.uniform(0, 256));
  return bytes;
}

class BadInput : public CvpipeTest {
 protected:
  // A config reading `input` (a path in the temp dir) into images.
  std::string config_reading(const std::string& input) {
    return write("pipeline.yaml", "source:\n  type: file\n  path: " + input + R"(
stages:
  - name: blur
    workers: 2
    ops:
      - op: gaussian_blur
sink:
  type: images
  path: out/%03d.png
)");
  }
};

TEST_F(BadInput, RandomBytesNamedMp4ExitWithNoInput) {
  write("noise.mp4", random_bytes(50000));

  const RunResult r = run_cvpipe({"run", config_reading("noise.mp4")});

  EXPECT_EQ(r.exit_code, kExitNoInput) << describe(r);
  EXPECT_NE(r.err.find("cvpipe: input error: "), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find(path("noise.mp4")), std::string::npos) << "names the file\n" << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(exists(path("out"))) << "the output folder was created";
}

TEST_F(BadInput, AnEmptyFileExitsWithNoInput) {
  write("empty.mp4", "");

  const RunResult r = run_cvpipe({"run", config_reading("empty.mp4")});

  EXPECT_EQ(r.exit_code, kExitNoInput) << describe(r);
  EXPECT_NE(r.err.find("cvpipe: input error: "), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find(path("empty.mp4")), std::string::npos) << "names the file\n" << describe(r);
}

TEST_F(BadInput, IsReportedInOneLineOnStderr) {
  write("noise.mp4", random_bytes(50000));
  write("empty.mp4", "");

  for (const char* input : {"noise.mp4", "empty.mp4"}) {
    const RunResult r = run_cvpipe({"run", config_reading(input)});
    EXPECT_EQ(r.exit_code, kExitNoInput) << describe(r);
    const std::vector<std::string> lines = non_empty_lines(r.err);
    EXPECT_EQ(lines.size(), 1u) << input << ": expected only cvpipe's own line\n" << describe(r);
    EXPECT_TRUE(!lines.empty() && lines.back().rfind("cvpipe: input error: ", 0) == 0) << describe(r);
  }
}

// A file that opens (its container is whole) but whose video does not decode: its packets are
// zeros. The run has started its workers when it reads the first frame; it stops them, writes
// nothing and says so in one line. validate reads that frame too.
TEST_F(BadInput, AFileWhoseFirstFrameDoesNotDecodeExitsWithNoInputHavingWrittenNothing) {
  const RunResult made = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                                      "testsrc=rate=25:size=160x120", "-frames:v", "10", "-c:v", "libx264",
                                      "-pix_fmt", "yuv420p", path("clip.mp4")});
  ASSERT_EQ(made.exit_code, 0) << describe(made);
  std::string bytes;
  {
    std::ifstream in(path("clip.mp4"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // FFmpeg writes the frames (mdat) first, the index (moov) after them.
  const std::size_t mdat = bytes.find("mdat"), moov = bytes.rfind("moov");
  ASSERT_TRUE(mdat != std::string::npos && moov != std::string::npos && mdat + 4 < moov - 4);
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(mdat + 4), bytes.begin() + static_cast<std::ptrdiff_t>(moov - 4),
            '\0');
  write("zeros.mp4", bytes);
  const std::string config = config_reading("zeros.mp4");

  const RunResult r = run_cvpipe({"run", config});

  EXPECT_EQ(r.exit_code, kExitNoInput) << describe(r);
  const std::vector<std::string> lines = non_empty_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << describe(r);
  EXPECT_EQ(lines[0], "cvpipe: input error: cannot read video file " + path("zeros.mp4") + ": no frame could be decoded");
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(exists(path("out"))) << "the output folder was created";

  const RunResult v = run_cvpipe({"validate", config});
  EXPECT_EQ(v.exit_code, kExitNoInput) << describe(v);
  EXPECT_EQ(non_empty_lines(v.err), lines) << describe(v);
}

TEST_F(BadInput, AFolderInsteadOfAFileIsAConfigError) {
  std::filesystem::create_directory(path("clip.mp4"));

  const RunResult r = run_cvpipe({"run", config_reading("clip.mp4")});

  EXPECT_EQ(r.exit_code, 78) << describe(r);
  EXPECT_NE(r.err.find("expected a video file, got a directory: " + path("clip.mp4")), std::string::npos)
      << describe(r);
}

TEST_F(BadInput, AFileWithoutReadPermissionExitsWithNoInput) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), {160, 120}, 5));
  const std::string config = config_reading("clip.mkv");
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(path("clip.mkv").c_str(), 0), 0);

  const RunResult r = run_unprivileged({"run", config});

  EXPECT_EQ(r.exit_code, kExitNoInput) << describe(r);
  EXPECT_NE(r.err.find("cvpipe: input error: cannot open video file " + path("clip.mkv") + ": Permission denied"),
            std::string::npos)
      << describe(r);
  EXPECT_EQ(non_empty_lines(r.err).size(), 1u) << describe(r);
}

// Two streams of different sizes back to back, as a stream that switched resolution: OpenCV
// would return the second's frames garbled at the first size; the file source stops before them.
class FrameSizeChange : public BadInput, public ::testing::WithParamInterface<std::string> {};

TEST_P(FrameSizeChange, StopsWithNoInputAfterWritingTheFramesBefore) {
  for (const auto& [name, size] : {std::pair{"a.ts", "320x240"}, std::pair{"b.ts", "160x120"}}) {
    const RunResult made = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                                        std::string("testsrc=rate=25:size=") + size, "-frames:v", "10", "-c:v",
                                        GetParam(), "-g", "5", path(name)});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
  }
  {
    std::ofstream joined(path("ab.ts"), std::ios::binary);
    joined << std::ifstream(path("a.ts"), std::ios::binary).rdbuf()
           << std::ifstream(path("b.ts"), std::ios::binary).rdbuf();
  }

  // The frames FFmpeg decodes at the first size: 10 for H.264; 9 for MPEG-2, whose decoder loses
  // the last frame before the new sequence header.
  const RunResult probed = run_program({"/usr/bin/ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                                        "frame=width", "-of", "csv=p=0", path("ab.ts")});
  ASSERT_EQ(probed.exit_code, 0) << describe(probed);
  std::istringstream widths(probed.out);
  int first_size = 0;
  for (std::string w; std::getline(widths, w) && w.rfind("160", 0) != 0;) first_size += w.rfind("320", 0) == 0;
  ASSERT_GE(first_size, 9) << probed.out;

  const RunResult r = run_cvpipe({"run", config_reading("ab.ts")});

  EXPECT_EQ(r.exit_code, kExitNoInput) << describe(r);
  EXPECT_NE(r.err.find("frame " + std::to_string(first_size) + " of " + path("ab.ts") +
                       " is 160x120, the stream started at 320x240"),
            std::string::npos)
      << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), first_size);
  EXPECT_EQ(s.integer("frames_written"), first_size);
  EXPECT_EQ(list_dir(path("out")).size(), static_cast<std::size_t>(first_size));
}

INSTANTIATE_TEST_SUITE_P(Codecs, FrameSizeChange, ::testing::Values("mpeg2video", "libx264"));

// MJPEG's parser tells no frame size: the change is caught at the first decoded frame of the new
// size, which is not handed out (OpenCV 4.6 hands it out garbled at the first size).
TEST_F(BadInput, AnMjpegFileWhoseFrameSizeChangesStopsAtTheFirstFrameOfAnotherSize) {
  std::string list;
  for (const auto& [name, size] : {std::pair{"a.mkv", "320x240"}, std::pair{"b.mkv", "160x120"}}) {
    const RunResult made = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                                        std::string("testsrc=rate=25:size=") + size, "-frames:v", "10", "-c:v",
                                        "mjpeg", path(name)});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
    list += std::string("file ") + name + "\n";
  }
  write("list.txt", list);
  const RunResult joined = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-f", "concat", "-i",
                                        path("list.txt"), "-c", "copy", path("ab.mkv")});
  ASSERT_EQ(joined.exit_code, 0) << describe(joined);

  const RunResult r = run_cvpipe({"run", config_reading("ab.mkv")});

  EXPECT_EQ(r.exit_code, kExitNoInput) << describe(r);
  EXPECT_NE(r.err.find("frame 10 of " + path("ab.mkv") + " is 160x120, the stream started at 320x240"),
            std::string::npos)
      << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), 10);
  EXPECT_EQ(s.integer("frames_written"), 10);
  EXPECT_EQ(list_dir(path("out")).size(), 10u);
}

// The end of a file, by container: whole files of a variable frame rate end normally (Matroska
// and WebM only estimate their frame count, from duration x fps, and a long pause makes that 130
// here for 30 frames); the same files cut in half exit 66 after writing what could be read.
class FileEnd : public BadInput, public ::testing::WithParamInterface<std::string> {
 protected:
  // 30 frames, the second 15 of them 4 s after the first 15 (as a phone or a screen recording
  // that pauses). The MP4 is "faststart" (its index first), else half of it would not open.
  void make_vfr(const std::string& name) {
    const std::string codec = GetParam() == "webm" ? "libvpx" : "libx264";
    const RunResult made = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                                        "testsrc2=size=320x240:rate=25", "-frames:v", "30", "-vf",
                                        "setpts='if(lt(N,15),N,N+100)/25/TB'", "-fps_mode", "passthrough", "-c:v",
                                        codec, "-movflags", "+faststart", path(name)});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
  }
};

TEST_P(FileEnd, AVariableFrameRateFileEndsNormally) {
  const std::string name = "vfr." + GetParam();
  make_vfr(name);
  const RunResult r = run_cvpipe({"run", config_reading(name)});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(summary_of(r).integer("frames_written"), 30);
  EXPECT_EQ(list_dir(path("out")).size(), 30u);
}

TEST_P(FileEnd, TheFirstHalfOfAFileExitsWithNoInputAfterItsFrames) {
  const std::string name = "vfr." + GetParam();
  make_vfr(name);
  std::filesystem::resize_file(path(name), std::filesystem::file_size(path(name)) / 2);
  const RunResult r = run_cvpipe({"run", config_reading(name)});

  ASSERT_EQ(r.exit_code, kExitNoInput) << describe(r);
  const Json s = summary_of(r);
  EXPECT_NE(r.err.find(path(name) + " ends after " + std::to_string(s.integer("frames_read")) + " frames: "),
            std::string::npos)
      << describe(r);
  EXPECT_NE(r.err.find("(truncated or damaged)"), std::string::npos) << describe(r);
  EXPECT_GT(s.integer("frames_written"), 5);
  EXPECT_LT(s.integer("frames_written"), 30);
  EXPECT_EQ(static_cast<long>(list_dir(path("out")).size()), s.integer("frames_written"));
}

INSTANTIATE_TEST_SUITE_P(Containers, FileEnd, ::testing::Values("mkv", "webm", "mp4"));

// Files cut the usual ways are whole files: they end normally, with every frame OpenCV reads.
class FileCut : public BadInput {
 protected:
  // 150 frames of H.264, a keyframe every 50.
  void make_base(const std::string& name) {
    const RunResult made = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                                        "testsrc2=size=320x240:rate=25", "-frames:v", "150", "-c:v", "libx264", "-g",
                                        "50", path(name)});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
  }
  static long opencv_frames(const std::string& file) {
    ::setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);  // no line for each frame the decoder skips
    cv::VideoCapture cap(file, cv::CAP_FFMPEG);
    long n = 0;
    for (cv::Mat frame; cap.read(frame);) ++n;
    return n;
  }
  void expect_ends_normally(const std::string& name, long at_most) {
    const long frames = opencv_frames(path(name));
    ASSERT_GT(frames, 10);
    ASSERT_LT(frames, at_most) << "the cut kept every frame: the test proves nothing";
    const RunResult r = run_cvpipe({"run", config_reading(name)});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(summary_of(r).integer("frames_written"), frames);
    EXPECT_EQ(static_cast<long>(list_dir(path("out")).size()), frames);
  }
};

// `ffmpeg -ss 1.3 -c copy` starts the copy at the keyframe before 1.3 s and hides the frames up to
// 1.3 s with an edit list: their packets are in the file, but decoded only to be dropped.
TEST_F(FileCut, AnMp4OrMovCutWithoutReencodingEndsNormally) {
  make_base("base.mp4");
  for (const std::string name : {"cut.mp4", "cut.mov"}) {
    SCOPED_TRACE(name);
    const RunResult cut = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-ss", "1.3", "-i",
                                       path("base.mp4"), "-c", "copy", path(name)});
    ASSERT_EQ(cut.exit_code, 0) << describe(cut);
    std::filesystem::remove_all(path("out"));
    expect_ends_normally(name, 150 - 30);
  }
}

// MPEG-TS cut out of the middle of a stream (as a recorder or `tail -c` does): it starts with
// frames that refer to a keyframe it does not hold, which the decoder skips.
TEST_F(FileCut, AnMpegTsStartingMidStreamEndsNormally) {
  make_base("base.mp4");
  const RunResult ts = run_program({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-i", path("base.mp4"), "-c",
                                    "copy", "-f", "mpegts", path("base.ts")});
  ASSERT_EQ(ts.exit_code, 0) << describe(ts);
  std::ostringstream bytes;
  bytes << std::ifstream(path("base.ts"), std::ios::binary).rdbuf();
  const std::string whole = bytes.str();
  // The last ~40% of the stream, from a TS packet boundary (188 bytes) that is not a keyframe's.
  const std::size_t from = (whole.size() * 6 / 10) / 188 * 188;
  {
    std::ofstream tail(path("tail.ts"), std::ios::binary);
    tail << whole.substr(from);
  }
  expect_ends_normally("tail.ts", 150 * 5 / 10);
}

class BadOutput : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(make_clip(path("clip.mkv"), {160, 120}, 5));
    write("afile", "not a folder\n");
  }

  std::string config_writing(const std::string& sink) {
    return write("pipeline.yaml", R"(source:
  type: file
  path: clip.mkv
stages:
  - name: blur
    workers: 2
    ops:
      - op: gaussian_blur
sink:
)" + sink);
  }
};

// A fourcc OpenCV's writer would refuse is a config error at its key, found by validate, rather
// than exit 73 once the run has started.
TEST_F(BadOutput, AFourccFFmpegCannotWriteIsAConfigErrorAtItsKey) {
  const RunResult r = run_cvpipe({"validate", config_writing("  type: video\n  path: out.mp4\n  fourcc: ZZZZ\n")});

  EXPECT_EQ(r.exit_code, 78) << describe(r);
  EXPECT_NE(r.err.find("pipeline.yaml:12:11: sink.fourcc: no video codec is called ZZZZ"), std::string::npos)
      << describe(r);
  EXPECT_EQ(r.err.find("OpenCV"), std::string::npos) << describe(r);
}

TEST_F(BadOutput, AnExtensionFFmpegHasNoContainerForIsAConfigErrorAtThePath) {
  const RunResult r = run_cvpipe({"validate", config_writing("  type: video\n  path: out.nosuchformat\n")});

  EXPECT_EQ(r.exit_code, 78) << describe(r);
  EXPECT_NE(r.err.find("pipeline.yaml:11:9: sink.path: FFmpeg has no container for the extension of"),
            std::string::npos)
      << describe(r);
}

TEST_F(BadOutput, AVideoBelowARegularFileExitsWithCantCreate) {
  const RunResult r = run_cvpipe({"run", config_writing("  type: video\n  path: " + path("afile/out.mp4") + "\n")});

  EXPECT_EQ(r.exit_code, kExitCantCreate) << describe(r);
  const std::vector<std::string> lines = non_empty_lines(r.err);
  ASSERT_FALSE(lines.empty()) << describe(r);
  EXPECT_EQ(lines.back().rfind("cvpipe: output error: ", 0), 0u) << describe(r);
  EXPECT_NE(lines.back().find(path("afile")), std::string::npos) << "names the path\n" << describe(r);
  EXPECT_EQ(r.out, "");
}

TEST_F(BadOutput, ImagesBelowARegularFileExitWithCantCreate) {
  const RunResult r =
      run_cvpipe({"run", config_writing("  type: images\n  path: " + path("afile/frames/%03d.png") + "\n")});

  EXPECT_EQ(r.exit_code, kExitCantCreate) << describe(r);
  EXPECT_NE(r.err.find("cvpipe: output error: "), std::string::npos) << describe(r);
}

TEST_F(BadOutput, AVideoPathThatIsAFolderExitsWithCantCreate) {
  const RunResult r = run_cvpipe({"run", config_writing("  type: video\n  path: " + dir_ + "\n")});

  EXPECT_EQ(r.exit_code, kExitCantCreate) << describe(r);
  EXPECT_NE(r.err.find("cvpipe: output error: cannot create video " + dir_ + ": it is a folder"), std::string::npos)
      << describe(r);
}

// A codec the container cannot hold (FFmpeg's muxer says so) is a config error at the fourcc, not
// exit 73 once the run has started.
TEST_F(BadOutput, ACodecTheContainerCannotHoldIsAConfigErrorAtTheFourcc) {
  for (const auto& [file, fourcc, says] : {std::tuple{"out.mp4", "FFV1", "a MP4 (MPEG-4 Part 14) file cannot hold ffv1"},
                                           std::tuple{"out.webm", "mp4v", "a WebM file cannot hold mpeg4"}}) {
    SCOPED_TRACE(file);
    const RunResult r = run_cvpipe(
        {"validate", config_writing(std::string("  type: video\n  path: ") + file + "\n  fourcc: " + fourcc + "\n")});
    EXPECT_EQ(r.exit_code, 78) << describe(r);
    EXPECT_NE(r.err.find(std::string("pipeline.yaml:12:11: sink.fourcc: ") + says + " video (fourcc " + fourcc + ")"),
              std::string::npos)
        << describe(r);
  }
}

// OpenCV's writer says on opening that it falls back to another tag for MJPG in MP4; the file is
// fine, and cvpipe's stderr holds none of OpenCV's lines.
TEST_F(BadOutput, OpeningTheWriterAddsNoLinesOfOpenCVs) {
  const RunResult r = run_cvpipe({"run", config_writing("  type: video\n  path: out.mp4\n  fourcc: MJPG\n")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.err.find("OpenCV"), std::string::npos) << describe(r);
  EXPECT_EQ(cv::VideoCapture(path("out.mp4"), cv::CAP_FFMPEG).get(cv::CAP_PROP_FRAME_COUNT), 5) << describe(r);
}

// A folder this user may not write into: exit 73 before a frame is read, from validate as from
// run, naming the key and the absolute folder.
class OutputWithoutPermission : public BadOutput, public ::testing::WithParamInterface<std::string> {};

TEST_P(OutputWithoutPermission, ExitsWithCantCreateBeforeReading) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  ASSERT_TRUE(std::filesystem::create_directory(path("out")));
  ASSERT_EQ(::chmod(path("out").c_str(), 0555), 0);
  const std::string sink = GetParam() == "video" ? "  type: video\n  path: out/clip.mkv\n  fourcc: FFV1\n"
                                                 : "  type: images\n  path: out/frames/%03d.png\n";
  const std::string config = config_writing(sink);
  const std::string why = GetParam() == "video"
                              ? "sink.path: cannot write into output folder " + path("out") + ": Permission denied"
                              : "sink.path: cannot create output folder " + path("out/frames") +
                                    ": Permission denied (in " + path("out") + ")";
  for (const char* verb : {"validate", "run"}) {
    const RunResult r = run_unprivileged({verb, config});
    EXPECT_EQ(r.exit_code, kExitCantCreate) << describe(r);
    EXPECT_NE(r.err.find("cvpipe: output error: " + why), std::string::npos) << describe(r);
    EXPECT_EQ(list_dir(path("out")).size(), 0u);
  }
}

TEST_F(BadOutput, AResultsFileBelowAFileIsRefusedByValidate) {
  write("taken", "a file, not a folder");
  const RunResult r = run_cvpipe({"validate", write("p.yaml", "source: {type: file, path: clip.mkv}\n"
                                                               "stages: [{name: b, ops: [{op: gaussian_blur}]}]\n"
                                                               "sink: {type: \"null\"}\nresults: {path: taken/r.jsonl}\n")});
  EXPECT_EQ(r.exit_code, kExitCantCreate) << describe(r);
  EXPECT_NE(r.err.find("results.path: cannot create output folder " + path("taken") + ": " + path("taken") +
                       " is not a folder"),
            std::string::npos)
      << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Sinks, OutputWithoutPermission, ::testing::Values("video", "images"));

}  // namespace
}  // namespace cvpipe
