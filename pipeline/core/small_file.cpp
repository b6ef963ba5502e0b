#include "pipeline/core/small_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "pipeline/core/unique_fd.hpp"

namespace cvpipe {

std::string read_small_file(const std::string& path, std::size_t max_bytes, std::string& out) {
  out.clear();
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return std::strerror(errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::strerror(errno);
  if (S_ISDIR(st.st_mode)) return "is a directory";
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return "holds " + std::to_string(st.st_size) + " bytes, more than " + std::to_string(max_bytes);
  // The size can change while it is read: room for what fstat said and a little more, grown up
  // to one byte past the bound to notice a file that grew beyond it.
  out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(max_bytes, static_cast<std::uint64_t>(st.st_size) + 4096)) + 1);
  std::size_t got = 0;
  for (;;) {
    if (got == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(std::min(max_bytes, out.size() * 2) + 1);
    }
    const ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      out.clear();
      return why;
    }
    got += static_cast<std::size_t>(n);
  }
  if (got > max_bytes) {
    out.clear();
    return "holds more than " + std::to_string(max_bytes) + " bytes";
  }
  out.resize(got);
  return "";
}

}  // namespace cvpipe
