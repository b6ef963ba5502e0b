#include "pipeline/core/unique_fd.hpp"

#include <unistd.h>

namespace cvpipe {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

UniqueFd::~UniqueFd() { reset(); }

int UniqueFd::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) noexcept {
  const int old = fd_;
  fd_ = fd;
  // On Linux the fd is released even when close() fails (EINTR included), so never retry.
  if (old >= 0 && old != fd) ::close(old);
}

}  // namespace cvpipe
