// page_cost: what this machine charges for the pages of a shared segment like cvpipe's (95 MB,
// the default 8 slots of 1080p frames in two buffers each), three rounds of: a fresh memfd with
// each page written once (the kernel clears it at the first touch; in a VM the host may have to
// back it too), the same pages written through a second mapping (what each worker does), the
// unmapping and the close (the kernel frees the pages); and, beside them, as much anonymous memory.
// Not built by CMake: cc -O2 -o /tmp/page_cost tests/bench/page_cost.c && /tmp/page_cost [MB]
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static void touch(char* p, size_t bytes, size_t page) {
  for (size_t i = 0; i < bytes; i += page) p[i] = 1;
}

static char* map(size_t bytes, int flags, int fd) {
  char* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (p == MAP_FAILED) {
    perror("page_cost: mmap");
    exit(1);
  }
  return p;
}

int main(int argc, char** argv) {
  const size_t bytes = (size_t)(argc > 1 ? atol(argv[1]) : 95) << 20;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  for (int round = 1; round <= 3; ++round) {
    const int fd = memfd_create("page_cost", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) {
      perror("page_cost: memfd");
      return 1;
    }
    char* first = map(bytes, MAP_SHARED, fd);
    char* second = map(bytes, MAP_SHARED, fd);
    const double t0 = now_ms();
    touch(first, bytes, page);
    const double t1 = now_ms();
    touch(second, bytes, page);
    const double t2 = now_ms();
    munmap(first, bytes);
    munmap(second, bytes);
    const double t3 = now_ms();
    close(fd);
    const double t4 = now_ms();
    char* anon = map(bytes, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    const double t5 = now_ms();
    touch(anon, bytes, page);
    const double t6 = now_ms();
    munmap(anon, bytes);
    printf("round %d, %zu MB: first touch %.1f ms (%.2f us a page), a second mapping %.1f ms, "
           "two unmaps %.1f ms, close %.1f ms; anonymous first touch %.1f ms\n",
           round, bytes >> 20, t1 - t0, (t1 - t0) * 1e3 / (double)(bytes / page), t2 - t1, t3 - t2,
           t4 - t3, t6 - t5);
  }
  return 0;
}
