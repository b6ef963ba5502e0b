#include "pipeline/core/shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace cvpipe {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void* map_shared(int fd, std::size_t bytes, const std::string& what, bool read_only = false) {
  void* p = ::mmap(nullptr, bytes, read_only ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_errno("mmap " + what);
  return p;
}

}  // namespace

SharedMemory SharedMemory::create(std::size_t bytes, const char* name) {
  const std::string label = std::string("memfd ") + name;
  if (bytes == 0) throw std::invalid_argument("shared memory: zero-sized segment " + label);
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) throw_errno("memfd_create " + label);
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) throw_errno("ftruncate " + label);
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
    throw_errno("seal " + label);
  }
  void* data = map_shared(fd.get(), bytes, label);
  return SharedMemory(std::move(fd), data, bytes);
}

SharedMemory SharedMemory::create_sealed(std::string_view content, const char* name) {
  const std::string label = std::string("memfd ") + name;
  if (content.empty()) throw std::invalid_argument("shared memory: zero-sized segment " + label);
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) throw_errno("memfd_create " + label);
  for (std::size_t done = 0; done < content.size();) {
    const ssize_t n = ::pwrite(fd.get(), content.data() + done, content.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_errno("write " + label);
    done += static_cast<std::size_t>(n);
  }
  // Written with write(2), never mapped writable: F_SEAL_WRITE refuses while such a mapping exists.
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    throw_errno("seal " + label);
  void* data = map_shared(fd.get(), content.size(), label, true);
  return SharedMemory(std::move(fd), data, content.size());
}

SharedMemory SharedMemory::attach(int fd, bool read_only) {
  const std::string label = "shared memory fd " + std::to_string(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("fstat " + label);
  if (st.st_size <= 0) throw std::runtime_error("shared memory: empty segment behind " + label);
  UniqueFd own(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!own) throw_errno("dup " + label);
  const auto bytes = static_cast<std::size_t>(st.st_size);
  void* data = map_shared(own.get(), bytes, label, read_only);
  return SharedMemory(std::move(own), data, bytes);
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : fd_(std::move(other.fd_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

SharedMemory& SharedMemory::operator=(SharedMemory&& other) noexcept {
  if (this != &other) {
    unmap();
    fd_ = std::move(other.fd_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SharedMemory::~SharedMemory() { unmap(); }

void SharedMemory::unmap() noexcept {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace cvpipe
