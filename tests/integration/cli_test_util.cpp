#include "tests/integration/cli_test_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace cvpipe {
namespace {

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

int make_capture_file(const char* name) {
  const int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), std::string("memfd_create ") + name);
  return fd;
}

std::string read_all(int fd) {
  std::string text;
  char buf[65536];
  for (off_t offset = 0;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    offset += n;
  }
  return text;
}

std::string last_line(const std::string& text) {
  std::size_t end = text.size();
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r')) --end;
  const std::size_t start = text.rfind('\n', end == 0 ? 0 : end - 1);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1));
}

}  // namespace

// ---- Running programs -------------------------------------------------------------------------

RunningProgram RunningProgram::start(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("RunningProgram::start: empty argv");
  const int out_fd = make_capture_file("test-stdout");
  const int err_fd = make_capture_file("test-stderr");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // Its own process group, as a shell gives a job: a test can signal the whole group.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    ::close(out_fd);
    ::close(err_fd);
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + argv[0]);
  }
  return RunningProgram(pid, out_fd, err_fd, join(argv));
}

RunningProgram::RunningProgram(RunningProgram&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      out_fd_(std::exchange(other.out_fd_, -1)),
      err_fd_(std::exchange(other.err_fd_, -1)),
      command_(std::move(other.command_)),
      wait_status_(std::exchange(other.wait_status_, std::nullopt)) {}

RunningProgram::~RunningProgram() {
  if (pid_ > 0 && !wait_status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

bool RunningProgram::has_exited() {
  if (wait_status_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) wait_status_ = status;
  return wait_status_.has_value();
}

RunResult RunningProgram::finish(std::chrono::milliseconds timeout) {
  RunResult r;
  r.pid = pid_;
  r.command = command_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!has_exited() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!wait_status_) {
    r.timed_out = true;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    wait_status_ = status;
  }
  const int status = *wait_status_;
  r.signaled = WIFSIGNALED(status);
  r.exit_code = r.signaled ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  r.out = read_all(out_fd_);
  r.err = read_all(err_fd_);
  return r;
}

RunResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  RunningProgram program = RunningProgram::start(argv);
  return program.finish(timeout);
}

std::string cvpipe_binary() { return CVPIPE_BINARY; }

std::vector<std::string> cvpipe_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{cvpipe_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string source_path(const std::string& relative) { return std::string(CVPIPE_SOURCE_DIR) + "/" + relative; }

// ---- Files, clips and frames --------------------------------------------------------------------

void write_file(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

cv::Mat clip_frame(int index, cv::Size size) {
  cv::Mat frame(size, CV_8UC3);
  cv::RNG rng(1000 + static_cast<std::uint64_t>(index));
  for (int y = 0; y < size.height; ++y) {
    auto* row = frame.ptr<cv::Vec3b>(y);
    for (int x = 0; x < size.width; ++x) {
      const int noise = rng.uniform(-20, 21);
      row[x] = cv::Vec3b(cv::saturate_cast<uchar>((x + index * 3) * 255 / size.width + noise),
                         cv::saturate_cast<uchar>(y * 255 / size.height + noise),
                         cv::saturate_cast<uchar>(128 + 100 * std::sin((x + y + index) * 0.1) + noise));
    }
  }
  const int side = std::max(8, size.height / 4);
  const cv::Rect square((index * 5) % (size.width - side), (index * 3) % (size.height - side), side, side);
  // High-contrast shapes keep strong edges even after a wide blur.
  cv::rectangle(frame, square, cv::Scalar(255, 255, 255), cv::FILLED);
  cv::rectangle(frame, square, cv::Scalar(0, 0, 0), std::max(2, side / 8));
  cv::circle(frame, {size.width - side, size.height - side}, side / 2 + index % 7, cv::Scalar(20, 40, 250), 3);
  cv::putText(frame, std::to_string(index), {6, size.height - 8}, cv::FONT_HERSHEY_SIMPLEX, 0.8,
              cv::Scalar(255, 255, 255), 2);
  return frame;
}

bool make_clip(const std::string& path, cv::Size size, int frames, const std::string& fourcc, double fps) {
  if (fourcc.size() != 4) return false;
  cv::VideoWriter writer;
  if (!writer.open(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc(fourcc[0], fourcc[1], fourcc[2], fourcc[3]), fps,
                   size, true))
    return false;
  for (int i = 0; i < frames; ++i) writer.write(clip_frame(i, size));
  writer.release();
  return true;
}

std::vector<cv::Mat> read_video(const std::string& path) {
  std::vector<cv::Mat> frames;
  cv::VideoCapture cap(path, cv::CAP_FFMPEG);
  if (!cap.isOpened()) return frames;
  // Bounded: a clip of a test is a few hundred frames at most.
  for (int i = 0; i < 100000; ++i) {
    cv::Mat frame;
    if (!cap.read(frame)) break;
    frames.push_back(frame);
  }
  return frames;
}

std::optional<long> ffprobe_frame_count(const std::string& path) {
  const std::string ffprobe = "/usr/bin/ffprobe";
  if (::access(ffprobe.c_str(), X_OK) != 0) return std::nullopt;
  const RunResult r = run_program({ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                                   "stream=nb_read_frames", "-of", "default=noprint_wrappers=1:nokey=1", path},
                                  60s);
  if (r.exit_code != 0) return -1;
  try {
    return std::stol(r.out);
  } catch (const std::exception&) {
    return -1;
  }
}

std::map<std::string, std::string> ffprobe_stream(const std::string& path, const std::string& entries) {
  const RunResult r = run_program({"/usr/bin/ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                   "stream=" + entries, "-of", "default=noprint_wrappers=1", path},
                                  60s);
  std::map<std::string, std::string> values;
  if (r.exit_code != 0) return values;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (const auto eq = line.find('='); eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
  return values;
}

std::vector<cv::Mat> read_images(const std::string& dir) {
  std::vector<cv::Mat> images;
  for (const auto& name : list_dir(dir)) images.push_back(cv::imread(dir + "/" + name, cv::IMREAD_UNCHANGED));
  return images;
}

bool identical(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  return a.empty() || cv::norm(a, b, cv::NORM_INF) == 0;
}

std::string compare_frames(const std::vector<cv::Mat>& expected, const std::vector<cv::Mat>& actual) {
  std::ostringstream why;
  if (expected.size() != actual.size()) {
    why << "expected " << expected.size() << " frames, got " << actual.size();
    return why.str();
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const cv::Mat& e = expected[i];
    const cv::Mat& a = actual[i];
    if (e.size() != a.size() || e.type() != a.type()) {
      why << "frame " << i << ": expected " << e.cols << "x" << e.rows << " type " << e.type() << ", got " << a.cols
          << "x" << a.rows << " type " << a.type();
      return why.str();
    }
    if (!identical(e, a)) {
      cv::Mat diff;
      cv::absdiff(e, a, diff);
      why << "frame " << i << " differs: max difference " << cv::norm(e, a, cv::NORM_INF) << " in "
          << cv::countNonZero(diff.reshape(1)) << " values";
      return why.str();
    }
  }
  return "";
}

// ---- The JSON summary ---------------------------------------------------------------------------

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  std::optional<Json> parse_document() {
    std::optional<Json> v = value(0);
    skip_space();
    if (!v || pos_ != text_.size()) return std::nullopt;
    return v;
  }

 private:
  static constexpr int kMaxDepth = 32;

  void skip_space() {
    while (pos_ < text_.size() && std::strchr(" \t\r\n", text_[pos_]) != nullptr) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool eat_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  std::optional<std::string> string_literal() {
    if (!eat('"')) return std::nullopt;
    std::string s;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c == '\\') {
        if (pos_ >= text_.size()) return std::nullopt;
        const char e = text_[pos_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u': {
            if (pos_ + 4 > text_.size()) return std::nullopt;
            const unsigned long code = std::stoul(std::string(text_.substr(pos_, 4)), nullptr, 16);
            pos_ += 4;
            c = code < 0x80 ? static_cast<char>(code) : '?';  // the summary escapes control characters only
            break;
          }
          default: c = e;
        }
      }
      s += c;
    }
    if (pos_ >= text_.size()) return std::nullopt;
    ++pos_;
    return s;
  }

  std::optional<Json> value(int depth) {
    if (depth > kMaxDepth) return std::nullopt;
    skip_space();
    if (pos_ >= text_.size()) return std::nullopt;
    Json v;
    const char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind_ = Json::Kind::kObject;
      if (eat('}')) return v;
      do {
        auto key = string_literal();
        if (!key || !eat(':')) return std::nullopt;
        auto member = value(depth + 1);
        if (!member) return std::nullopt;
        v.members_[*key] = std::move(*member);
      } while (eat(','));
      if (!eat('}')) return std::nullopt;
      return v;
    }
    if (c == '[') {
      ++pos_;
      v.kind_ = Json::Kind::kArray;
      if (eat(']')) return v;
      do {
        auto item = value(depth + 1);
        if (!item) return std::nullopt;
        v.items_.push_back(std::move(*item));
      } while (eat(','));
      if (!eat(']')) return std::nullopt;
      return v;
    }
    if (c == '"') {
      auto s = string_literal();
      if (!s) return std::nullopt;
      v.kind_ = Json::Kind::kString;
      v.string_ = std::move(*s);
      return v;
    }
    if (eat_word("true")) {
      v.kind_ = Json::Kind::kBool;
      v.bool_ = true;
      return v;
    }
    if (eat_word("false")) {
      v.kind_ = Json::Kind::kBool;
      return v;
    }
    if (eat_word("null")) return v;
    const std::string rest(text_.substr(pos_, 64));
    char* end = nullptr;
    const double number = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) return std::nullopt;
    pos_ += static_cast<std::size_t>(end - rest.c_str());
    v.kind_ = Json::Kind::kNumber;
    v.number_ = number;
    return v;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

std::optional<Json> Json::parse(std::string_view text) { return JsonParser(text).parse_document(); }

double Json::number() const {
  if (kind_ != Kind::kNumber) throw std::runtime_error("JSON: expected a number");
  return number_;
}

const std::string& Json::string() const {
  if (kind_ != Kind::kString) throw std::runtime_error("JSON: expected a string");
  return string_;
}

const std::vector<Json>& Json::items() const {
  if (kind_ != Kind::kArray) throw std::runtime_error("JSON: expected an array");
  return items_;
}

bool Json::has(const std::string& key) const { return kind_ == Kind::kObject && members_.count(key) > 0; }

const Json& Json::operator[](const std::string& key) const {
  if (kind_ != Kind::kObject) throw std::runtime_error("JSON: expected an object holding \"" + key + "\"");
  const auto it = members_.find(key);
  if (it == members_.end()) throw std::runtime_error("JSON: no key \"" + key + "\"");
  return it->second;
}

const Json& Json::operator[](std::size_t index) const {
  const auto& all = items();
  if (index >= all.size()) throw std::runtime_error("JSON: no item " + std::to_string(index));
  return all[index];
}

long long Json::integer(const std::string& key) const { return std::llround((*this)[key].number()); }

Json summary_of(const RunResult& r) {
  const std::string line = last_line(r.out);
  std::optional<Json> summary = Json::parse(line);
  if (!summary || summary->kind() != Json::Kind::kObject)
    throw std::runtime_error("the last stdout line is not a JSON summary: \"" + line + "\"\n" + describe(r));
  return *summary;
}

const Json& stage_in(const Json& summary, const std::string& name) {
  for (const Json& stage : summary["stages"].items())
    if (stage["name"].string() == name) return stage;
  throw std::runtime_error("the summary has no stage named \"" + name + "\"");
}

// ---- Processes and /dev/shm ---------------------------------------------------------------------

std::vector<pid_t> worker_pids_of(pid_t daemon_pid) {
  std::vector<pid_t> pids;
  const std::string parent = std::to_string(daemon_pid);
  DIR* proc = ::opendir("/proc");
  if (!proc) throw std::system_error(errno, std::generic_category(), "opendir /proc");
  while (const dirent* entry = ::readdir(proc)) {
    const std::string name = entry->d_name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    // The process may exit while it is read (ESRCH): that reads as an empty command line.
    const int fd = ::open(("/proc/" + name + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    const std::string cmdline = read_all(fd);
    ::close(fd);
    std::vector<std::string> args;
    std::stringstream split(cmdline);
    for (std::string arg; std::getline(split, arg, '\0');) args.push_back(arg);
    if (args.size() < 2 || args[1] != "--worker") continue;
    for (std::size_t i = 2; i + 1 < args.size(); ++i) {
      if (args[i] == "--parent" && args[i + 1] == parent) {
        pids.push_back(static_cast<pid_t>(std::stol(name)));
        break;
      }
    }
  }
  ::closedir(proc);
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::vector<pid_t> wait_for_workers(RunningProgram& daemon, std::size_t n) {
  std::vector<pid_t> workers;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (workers.size() < n && std::chrono::steady_clock::now() < deadline && !daemon.has_exited()) {
    std::this_thread::sleep_for(20ms);
    workers = worker_pids_of(daemon.pid());
  }
  return workers;
}

std::set<std::string> dev_shm_entries() {
  const auto names = list_dir("/dev/shm");
  return std::set<std::string>(names.begin(), names.end());
}

std::string describe(const RunResult& r) {
  std::ostringstream s;
  s << "command: " << r.command << "\nexit code: " << r.exit_code << (r.timed_out ? " (killed: timed out)" : "")
    << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
  return s.str();
}

// ---- The fixture ----------------------------------------------------------------------------------

void CvpipeTest::SetUp() {
  char pattern[] = "/tmp/cvpipe-it-XXXXXX";
  const char* made = ::mkdtemp(pattern);
  ASSERT_NE(made, nullptr) << "mkdtemp: " << std::strerror(errno);
  dir_ = made;
}

void CvpipeTest::TearDown() {
  if (dir_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  EXPECT_FALSE(ec) << "cannot remove " << dir_ << ": " << ec.message();
}

std::string CvpipeTest::write(const std::string& name, std::string_view content) {
  const std::string p = path(name);
  write_file(p, content);
  return p;
}

RunningProgram CvpipeTest::start_cvpipe(const std::vector<std::string>& args) {
  shm_before_ = dev_shm_entries();
  return RunningProgram::start(cvpipe_argv(args));
}

RunResult CvpipeTest::finish_cvpipe(RunningProgram& program, std::chrono::milliseconds timeout) {
  RunResult r = program.finish(timeout);
  EXPECT_FALSE(r.timed_out) << "cvpipe did not finish within " << timeout.count() << " ms\n" << describe(r);

  // The daemon reaps its workers before it exits, so none may be alive now, not even for a moment.
  const std::vector<pid_t> left = worker_pids_of(r.pid);
  EXPECT_TRUE(left.empty()) << left.size() << " worker process(es) of daemon " << r.pid
                            << " still alive after it exited, first pid " << (left.empty() ? 0 : left.front()) << "\n"
                            << describe(r);
  for (pid_t pid : left) ::kill(pid, SIGKILL);  // leave nothing to the next test

  // Shared memory is memfd only: nothing may appear under /dev/shm.
  const std::set<std::string> after = dev_shm_entries();
  std::vector<std::string> added;
  std::set_difference(after.begin(), after.end(), shm_before_.begin(), shm_before_.end(), std::back_inserter(added));
  EXPECT_TRUE(added.empty()) << "new in /dev/shm after the run: " << (added.empty() ? "" : added.front()) << "\n"
                             << describe(r);
  return r;
}

RunResult CvpipeTest::run_cvpipe(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  RunningProgram program = start_cvpipe(args);
  return finish_cvpipe(program, timeout);
}

}  // namespace cvpipe
