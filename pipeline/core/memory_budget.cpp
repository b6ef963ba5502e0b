#include "pipeline/core/memory_budget.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "pipeline/core/small_file.hpp"

namespace cvpipe {
namespace {

// The number in `file` (a cgroup's limit), or 0 for "max", a missing file or anything else.
std::uint64_t read_limit(const std::string& file) {
  std::string text;
  if (!read_small_file(file, 64, text).empty()) return 0;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty() || text == "max") return 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  // cgroup v1 says "no limit" with a huge number near 2^63.
  if (end == text.c_str() || *end != '\0' || v >= (1ULL << 62)) return 0;
  return v;
}

// The limit of the cgroup at `dir` and of every cgroup above it up to `root`, the smallest.
std::uint64_t limit_up_to(std::string dir, const std::string& root, const char* file) {
  std::uint64_t smallest = 0;
  for (;;) {
    const std::uint64_t v = read_limit(dir + "/" + file);
    if (v && (!smallest || v < smallest)) smallest = v;
    if (dir.size() <= root.size()) return smallest;
    dir = dir.substr(0, dir.rfind('/'));
  }
}

std::uint64_t cgroup_limit() {
  if (const char* root = std::getenv("CVPIPE_CGROUP_ROOT")) {
    const std::uint64_t v2 = read_limit(std::string(root) + "/memory.max");
    return v2 ? v2 : read_limit(std::string(root) + "/memory.limit_in_bytes");
  }
  std::ifstream in("/proc/self/cgroup");
  std::uint64_t smallest = 0;
  for (std::string line; std::getline(in, line);) {
    // "0::/path" (v2) or "N:memory,...:/path" (v1).
    const std::size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (path == "/") path.clear();
    std::uint64_t v = 0;
    if (controllers.empty()) v = limit_up_to("/sys/fs/cgroup" + path, "/sys/fs/cgroup", "memory.max");
    else if (("," + controllers + ",").find(",memory,") != std::string::npos)
      v = limit_up_to("/sys/fs/cgroup/memory" + path, "/sys/fs/cgroup/memory", "memory.limit_in_bytes");
    if (v && (!smallest || v < smallest)) smallest = v;
  }
  return smallest;
}

}  // namespace

MemoryLimit memory_limit() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  MemoryLimit limit;
  if (pages > 0 && page > 0) limit = {static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page), "this machine's RAM"};
  if (const std::uint64_t cgroup = cgroup_limit(); cgroup && (!limit.bytes || cgroup < limit.bytes))
    limit = {cgroup, "its container's memory limit (cgroup)"};
  return limit;
}

std::string bytes_text(double bytes) {
  char text[32];
  if (bytes >= 1024.0 * 1024 * 1024) std::snprintf(text, sizeof text, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  else std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1024.0 * 1024));
  return text;
}

}  // namespace cvpipe
