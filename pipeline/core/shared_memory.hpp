#pragma once

#include <cstddef>
#include <string_view>
#include <utility>

#include "pipeline/core/unique_fd.hpp"

namespace cvpipe {

// SharedMemory is one anonymous memfd segment mapped MAP_SHARED, read-write, into this process.
// The parent creates it and passes fd() to children (see ChildProcess::spawn), which attach().
// Nothing appears under /dev/shm; the memory is freed when the last fd and mapping are gone.
// The segment's size is sealed (F_SEAL_GROW | F_SEAL_SHRINK), so no process can truncate it under
// another's mapping (which would raise SIGBUS).
//
// Owns its fd (O_CLOEXEC) and its mapping; munmaps and closes on destruction. Move-only.
// create() and attach() make system calls and may throw std::system_error; everything else neither
// blocks nor allocates. Not thread-safe to move or destroy concurrently; the memory itself is
// shared by design, and what lives in it must synchronise itself (atomics, no pointers).
class SharedMemory {
 public:
  // A new zero-filled segment of `bytes` (> 0). `name` labels it in /proc/<pid>/fd ("/memfd:name").
  static SharedMemory create(std::size_t bytes, const char* name);
  // A new segment holding `content`, sealed against writing (F_SEAL_WRITE): no process can change
  // it, whatever fd it holds; mapped read-only. For what readers must be able to trust.
  static SharedMemory create_sealed(std::string_view content, const char* name);
  // Maps the whole segment behind `fd` (size from fstat), read-write, or read-only with
  // `read_only` (a sealed segment can only be mapped so). Does not take `fd`: it keeps its own
  // O_CLOEXEC duplicate, so the caller still owns and closes `fd`.
  static SharedMemory attach(int fd, bool read_only = false);

  SharedMemory() noexcept = default;
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&& other) noexcept;
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  ~SharedMemory();

  void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  int fd() const noexcept { return fd_.get(); }

 private:
  SharedMemory(UniqueFd fd, void* data, std::size_t size) noexcept
      : fd_(std::move(fd)), data_(data), size_(size) {}
  void unmap() noexcept;

  UniqueFd fd_;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace cvpipe
