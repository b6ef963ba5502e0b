#include "pipeline/runtime/results_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/core/json.hpp"

namespace cvpipe {
namespace {

void append_number(std::string& out, double v, const char* format = "%.6g") {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char text[40];
  std::snprintf(text, sizeof text, format, v);
  out += text;
}

}  // namespace

ResultsWriter::ResultsWriter(int fd, std::string path, bool is_stdout)
    : fd_(fd), path_(std::move(path)), stdout_(is_stdout), wall_offset_ns_(wall_clock_offset_ns()) {
  line_.reserve(4096);
}

ResultsWriter::~ResultsWriter() { (void)close(); }

std::unique_ptr<ResultsWriter> ResultsWriter::open(const std::string& path) {
  if (path == "-") return std::unique_ptr<ResultsWriter>(new ResultsWriter(STDOUT_FILENO, "stdout", true));
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw OutputError("cannot create the results folder " + parent.string() + ": " + ec.message());
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw OutputError("cannot create results file " + path + ": " + std::strerror(errno));
  return std::unique_ptr<ResultsWriter>(new ResultsWriter(fd, path, false));
}

void ResultsWriter::format_line(const FrameMeta& meta, std::int64_t wall_offset_ns, std::string& out) {
  out.clear();
  out += "{\"seq\":";
  out += std::to_string(meta.seq);
  out += ",\"pts_ms\":";
  append_number(out, static_cast<double>(meta.pts_us) / 1000.0, "%.3f");
  // The capture time on the wall clock, to the millisecond, UTC.
  const std::int64_t wall_ms = wall_clock_ns(meta.capture_ns, wall_offset_ns) / 1'000'000;
  const std::time_t seconds = static_cast<std::time_t>(wall_ms / 1000);
  std::tm tm{};
  if (!gmtime_r(&seconds, &tm)) tm = std::tm{};
  char when[48];
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(wall_ms % 1000 + (wall_ms % 1000 < 0 ? 1000 : 0)));
  out += ",\"captured_at\":\"";
  out += when;
  out += "\",\"detections\":[";
  bool first = true;
  for (const Detection& d : meta.detections) {
    out += first ? "{\"class\":" : ",{\"class\":";
    first = false;
    append_json_string(out, d.label_view());
    out += ",\"x\":" + std::to_string(d.x) + ",\"y\":" + std::to_string(d.y) + ",\"w\":" + std::to_string(d.w) +
           ",\"h\":" + std::to_string(d.h) + ",\"score\":";
    append_number(out, d.score);
    if (d.flags & Detection::kHasVector) {
      out += ",\"dx\":";
      append_number(out, d.dx, "%.3f");
      out += ",\"dy\":";
      append_number(out, d.dy, "%.3f");
    }
    out += '}';
  }
  out += "],\"overflow\":";
  out += std::to_string(meta.detections.overflow);
  out += '}';
}

Status ResultsWriter::write(const FrameMeta& meta) {
  if (fd_ < 0) return Status::error("results file " + path_ + " is closed");
  format_line(meta, wall_offset_ns_, line_);
  line_ += '\n';
  if (!stdout_) {
    struct stat st;
    if (::fstat(fd_, &st) == 0 && st.st_nlink == 0)
      return Status::error("results file " + path_ + " was removed (or its folder) while it was written");
  }
  std::size_t done = 0;
  while (done < line_.size()) {
    const ssize_t n = ::write(fd_, line_.data() + done, line_.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    const int error = n < 0 ? errno : ENOSPC;
    // Keep the file a list of complete lines.
    if (!stdout_ && done > 0 && ::ftruncate(fd_, static_cast<off_t>(bytes_)) == 0)
      (void)::lseek(fd_, static_cast<off_t>(bytes_), SEEK_SET);
    return Status::error("cannot write results file " + path_ + ": " + std::strerror(error));
  }
  bytes_ += line_.size();
  return Status::ok();
}

Status ResultsWriter::close() {
  if (fd_ < 0) return Status::ok();
  const int fd = fd_;
  fd_ = -1;
  if (stdout_) return Status::ok();  // stdout stays open for the summary
  std::error_code ec;
  const bool exists = std::filesystem::exists(path_, ec);
  if (::close(fd) != 0) return Status::error("cannot write results file " + path_ + ": " + std::strerror(errno));
  if (!exists) return Status::error("results file " + path_ + " was removed (or its folder) while it was written");
  return Status::ok();
}

}  // namespace cvpipe
