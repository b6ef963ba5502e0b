#pragma once
// How much memory this process may use: the machine's RAM, or less where its container (its
// cgroup, v2 or v1) sets a limit. Buffers the pipeline sizes from what a source announces are
// checked against it, so that a stream that says its frames are huge gets a clear error rather than
// an OOM kill.
//
// Reads /proc and /sys on each call (cheap; a limit can change while a daemon runs). Thread-safe.
#include <cstdint>
#include <string>

namespace cvpipe {

struct MemoryLimit {
  std::uint64_t bytes = 0;  // 0: unknown
  std::string what;         // "this machine's RAM" or "its container's limit (cgroup memory.max)"
};

// The smaller of the RAM and the cgroup's limit. The environment variable CVPIPE_CGROUP_ROOT, for
// tests, names a folder to read as this process's own cgroup instead of the real one.
MemoryLimit memory_limit();

// "512.0 MiB", "1.5 GiB".
std::string bytes_text(double bytes);

}  // namespace cvpipe
