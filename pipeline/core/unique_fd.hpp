#pragma once

namespace cvpipe {

// UniqueFd owns one file descriptor and closes it when destroyed.
// Move-only. Not thread-safe: one owner at a time, from any thread.
// Never blocks (close() on a regular fd, memfd, pipe or socket does not) and never allocates.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const noexcept { return fd_; }
  // Gives up ownership without closing; returns the fd (or -1).
  int release() noexcept;
  // Closes the owned fd, if any, and takes ownership of fd.
  void reset(int fd = -1) noexcept;
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace cvpipe
