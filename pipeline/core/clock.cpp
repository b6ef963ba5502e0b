#include "pipeline/core/clock.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace cvpipe {

double ms_since_process_start() {
  FILE* f = std::fopen("/proc/self/stat", "re");
  if (!f) return -1;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  unsigned long long start_ticks = 0;
  // Field 22 (starttime); fields 3.. follow the ')' that ends the command name.
  if (!p || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                        &start_ticks) != 1)
    return -1;
  timespec now;
  clock_gettime(CLOCK_BOOTTIME, &now);
  const double now_ms = static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
  return now_ms - static_cast<double>(start_ticks) * 1e3 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace cvpipe
