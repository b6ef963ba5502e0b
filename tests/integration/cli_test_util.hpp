#pragma once
// What the integration tests need to run the real cvpipe binary and look at what it did:
// running a program with a time limit, clips and configs in a temp dir, reading frames back,
// the JSON summary, and the processes and /dev/shm entries a run may leave behind.
//
// CvpipeTest is the fixture of every test that runs the daemon: each test gets a fresh temp dir,
// and every run through it is checked for leftovers (worker processes, /dev/shm entries).
#include <gtest/gtest.h>
#include <sys/types.h>

#include <opencv2/core.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cvpipe {

using namespace std::chrono_literals;

// ---- Running programs -------------------------------------------------------------------------

struct RunResult {
  pid_t pid = -1;
  int exit_code = -1;      // the exit code, or 128 + signal if it was killed
  bool signaled = false;
  bool timed_out = false;  // it was killed with SIGKILL when its time ran out
  std::string out, err;
  std::string command;     // for messages: the argv joined by spaces
};

// A program started in the background, its stdout and stderr going to anonymous memory files (no
// pipe can fill up while the test does something else). Move-only; the destructor SIGKILLs and
// reaps a program still running.
class RunningProgram {
 public:
  // argv[0] is a path, not searched in PATH; the program leads a new process group (its pid).
  // Throws std::system_error if it cannot be started.
  static RunningProgram start(const std::vector<std::string>& argv);

  RunningProgram(RunningProgram&& other) noexcept;
  RunningProgram& operator=(RunningProgram&&) = delete;
  RunningProgram(const RunningProgram&) = delete;
  RunningProgram& operator=(const RunningProgram&) = delete;
  ~RunningProgram();

  pid_t pid() const noexcept { return pid_; }
  // Whether it has ended (reaping it); never blocks.
  bool has_exited();
  // Waits up to `timeout` for it to end, SIGKILLs it then; returns what it did.
  RunResult finish(std::chrono::milliseconds timeout);

 private:
  RunningProgram(pid_t pid, int out_fd, int err_fd, std::string command) noexcept
      : pid_(pid), out_fd_(out_fd), err_fd_(err_fd), command_(std::move(command)) {}

  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::string command_;
  std::optional<int> wait_status_;
};

// Runs `argv` to the end (or `timeout`, then SIGKILL).
RunResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 120s);

// The cvpipe binary under test, and `cvpipe args...` as an argv.
std::string cvpipe_binary();
std::vector<std::string> cvpipe_argv(const std::vector<std::string>& args);
// A path inside the source tree (config/default.yaml).
std::string source_path(const std::string& relative);

// ---- Files, clips and frames --------------------------------------------------------------------

void write_file(const std::string& path, std::string_view content);
// The whole of a file (a /proc file too); "" if it cannot be read.
std::string read_file(const std::string& path);
bool exists(const std::string& path);
// The names (not paths) in a folder, sorted; empty if it does not exist.
std::vector<std::string> list_dir(const std::string& dir);

// The frame a generated clip holds at `index`: a colour gradient, noise, a moving black-edged white
// square, a circle and the frame number, so that frames differ everywhere and edges are plentiful.
// Deterministic.
cv::Mat clip_frame(int index, cv::Size size);
// Writes clip_frame(0..frames-1) to `path` with FFmpeg (FFV1 in .mkv is lossless). Returns false
// if the writer could not be opened.
bool make_clip(const std::string& path, cv::Size size, int frames, const std::string& fourcc = "FFV1",
               double fps = 25);
// Every frame of a video, decoded with OpenCV's FFmpeg backend.
std::vector<cv::Mat> read_video(const std::string& path);
// Frame count of the first video stream as ffprobe counts it by decoding, or nothing when ffprobe
// is not installed. -1 when ffprobe ran but gave no number.
std::optional<long> ffprobe_frame_count(const std::string& path);
// What ffprobe says of the first video stream's `entries` ("codec_name,duration"), each as
// key -> value; empty when it cannot read the file.
std::map<std::string, std::string> ffprobe_stream(const std::string& path, const std::string& entries);
// The images in `dir` read unchanged (a gray PNG stays 1-channel), in file-name order.
std::vector<cv::Mat> read_images(const std::string& dir);
// True when a and b have the same size, type and every byte.
bool identical(const cv::Mat& a, const cv::Mat& b);
// "" when both lists hold the same frames in the same order, else which frame differs and how.
std::string compare_frames(const std::vector<cv::Mat>& expected, const std::vector<cv::Mat>& actual);

// ---- The JSON summary ---------------------------------------------------------------------------

// A parsed JSON value (enough JSON for the summary line). Accessors throw std::runtime_error on
// a missing key or a wrong kind, which gtest reports as a failure of the test.
class Json {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  // Nothing if `text` is not exactly one JSON value.
  static std::optional<Json> parse(std::string_view text);

  Kind kind() const noexcept { return kind_; }
  double number() const;
  const std::string& string() const;
  const std::vector<Json>& items() const;
  bool has(const std::string& key) const;
  const Json& operator[](const std::string& key) const;
  const Json& operator[](std::size_t index) const;
  // number() of a key, as an integer.
  long long integer(const std::string& key) const;

 private:
  friend class JsonParser;
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::map<std::string, Json> members_;
};

// The summary a run prints as its last stdout line. Throws std::runtime_error (naming the output)
// if that line is missing or is not a JSON object.
Json summary_of(const RunResult& r);
// The entry of summary["stages"] whose name is `name`; throws if there is none.
const Json& stage_in(const Json& summary, const std::string& name);

// ---- Processes and /dev/shm ---------------------------------------------------------------------

// Pids of live processes running `... --worker ... --parent <daemon_pid> ...`.
std::vector<pid_t> worker_pids_of(pid_t daemon_pid);
// Polls (up to 10 s, or until the daemon exits) until it has at least `n` workers; returns their pids.
std::vector<pid_t> wait_for_workers(RunningProgram& daemon, std::size_t n);
std::set<std::string> dev_shm_entries();

// For messages: a result's command, exit code and stderr.
std::string describe(const RunResult& r);

// ---- The fixture ----------------------------------------------------------------------------------

class CvpipeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A path inside this test's temp dir.
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  // Writes a config (or any file) into the temp dir; returns its path.
  std::string write(const std::string& name, std::string_view content);

  // Runs `cvpipe args...` and checks what every run must leave behind: it ended in time, no
  // worker process of it is alive, no new entry in /dev/shm.
  RunResult run_cvpipe(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 120s);
  // The same in two steps, for tests that act while the daemon runs.
  RunningProgram start_cvpipe(const std::vector<std::string>& args);
  RunResult finish_cvpipe(RunningProgram& program, std::chrono::milliseconds timeout = 120s);

  std::string dir_;

 private:
  std::set<std::string> shm_before_;
};

}  // namespace cvpipe
