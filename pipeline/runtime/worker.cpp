#include "pipeline/runtime/worker.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <opencv2/core.hpp>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/core/clock.hpp"
#include "pipeline/core/sandbox.hpp"
#include "pipeline/ops/op_chain.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/run_stats.hpp"
#include "pipeline/runtime/segment.hpp"

namespace cvpipe {
namespace {

bool parse_int(const char* s, int& out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0') return false;
  out = static_cast<int>(v);
  return true;
}

// Lowers every thread of this process by `by` (niceness is per thread on Linux): to the main
// thread's niceness plus `by`, at most 19. Threads started later inherit it from their creator.
// Returns what went wrong, or "".
std::string lower_priority(int by) {
  errno = 0;
  const int base = ::getpriority(PRIO_PROCESS, 0);
  if (base == -1 && errno != 0) return std::string("getpriority: ") + std::strerror(errno);
  const int target = std::min(19, base + by);
  DIR* dir = ::opendir("/proc/self/task");
  if (!dir) {
    // No /proc: this thread at least (in a worker with one OpenCV thread, the only one).
    errno = 0;
    if (::nice(by) == -1 && errno != 0) return std::string("nice: ") + std::strerror(errno);
    return "";
  }
  std::string error;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const auto tid = static_cast<id_t>(std::strtol(e->d_name, nullptr, 10));
    // A thread that ended meanwhile (ESRCH) needs no lowering.
    if (::setpriority(PRIO_PROCESS, tid, target) != 0 && errno != ESRCH && error.empty())
      error = "setpriority of thread " + std::string(e->d_name) + ": " + std::strerror(errno);
  }
  ::closedir(dir);
  return error;
}

}  // namespace

std::vector<std::string> worker_argv(const WorkerArgs& a) {
  return {"/proc/self/exe", "--worker",          "--fd",          std::to_string(a.fd),
          "--layout-fd",    std::to_string(a.layout_fd),
          "--stage",        std::to_string(a.stage), "--control", std::to_string(a.control),
          "--parent",       std::to_string(a.parent), "--threads", std::to_string(a.threads),
          "--nice",         std::to_string(a.nice),
          "--log-level",    a.log_level,          "--name",        a.name,
          "--width",        std::to_string(a.width), "--height", std::to_string(a.height),
          "--type",         std::to_string(a.type), "--max-latency-us", std::to_string(a.max_latency_us),
          "--base-dir",     a.base_dir};
}

bool parse_worker_args(int argc, char** argv, WorkerArgs& out) {
  for (int i = 0; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const char* value = argv[i + 1];
    bool ok = true;
    if (key == "--fd") ok = parse_int(value, out.fd);
    else if (key == "--layout-fd") ok = parse_int(value, out.layout_fd);
    else if (key == "--stage") ok = parse_int(value, out.stage);
    else if (key == "--control") ok = parse_int(value, out.control);
    else if (key == "--parent") ok = parse_int(value, out.parent);
    else if (key == "--threads") ok = parse_int(value, out.threads);
    else if (key == "--nice") ok = parse_int(value, out.nice);
    else if (key == "--width") ok = parse_int(value, out.width);
    else if (key == "--height") ok = parse_int(value, out.height);
    else if (key == "--type") ok = parse_int(value, out.type);
    else if (key == "--max-latency-us") ok = parse_int(value, out.max_latency_us);
    else if (key == "--log-level") out.log_level = value;
    else if (key == "--name") out.name = value;
    else if (key == "--base-dir") out.base_dir = value;
    else return false;
    if (!ok) return false;
  }
  return argc % 2 == 0 && out.fd >= 0 && out.layout_fd >= 0 && out.fd != out.layout_fd && out.stage >= 0 && out.control >= 0 && out.parent > 0 && !out.name.empty() &&
         out.width > 0 && out.height > 0 && out.type >= 0 && out.max_latency_us >= 0;
}

int worker_main(const WorkerArgs& args) {
  // Die with the daemon, even if stopped (SIGKILL ends a stopped process too). The daemon may
  // already be gone by now: check after arming.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != args.parent) return kWorkerExitOrphaned;
  prctl(PR_SET_NAME, "cvpipe-worker");  // for ps, pgrep and top; argv[0] is /proc/self/exe
  // Keep stdin/out/err and the segment's two fds; drop whatever else it may have inherited.
  const unsigned low = static_cast<unsigned>(std::min(args.fd, args.layout_fd));
  const unsigned high = static_cast<unsigned>(std::max(args.fd, args.layout_fd));
  if (low > 3) close_range(3, low - 1, 0);
  if (high > low + 1) close_range(low + 1, high - 1, 0);
  close_range(high + 1, ~0U, 0);
  // posix_spawn keeps the daemon's signal mask, in which the daemon blocks the signals its
  // signal thread waits for; a worker takes the default actions.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_UNBLOCK, &all, nullptr);
  // Ctrl-C, `timeout`, systemd and `kill -- -PGID` signal the whole process group. The daemon
  // decides when its workers stop (a stop marker on the ring, SIGKILL if they do not).
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE}) signal(sig, SIG_IGN);
  // Ops are code a worker runs without trusting it: from here on the process cannot run programs,
  // open sockets, touch other processes or gain privileges (core/sandbox.hpp). Before any thread.
  const std::string unrestricted = restrict_process();

  init_logging(args.log_level);
  auto log = get_logger(args.name);
  if (!unrestricted.empty()) log->warn("worker runs without some of its restrictions: {}", unrestricted);
  cv::setNumThreads(args.threads);

  try {
    Segment segment = Segment::attach(args.layout_fd, args.fd, static_cast<std::uint32_t>(args.control));
    close(args.fd);  // the mappings keep the segment alive
    close(args.layout_fd);
    WorkerControl& control = segment.worker(static_cast<std::uint32_t>(args.control));
    SpscRing in = segment.in_ring(static_cast<std::uint32_t>(args.control));
    SpscRing out = segment.out_ring(static_cast<std::uint32_t>(args.control));

    const std::vector<OpEntry> ops = parse_stage_ops(segment.config_text(), static_cast<std::size_t>(args.stage), args.base_dir);
    OpChain chain(ops, FrameFormat{args.width, args.height, args.type});
    if (Status opened = chain.open(); !opened) {
      log->error("cannot start: {}", opened.message());
      return kWorkerExitOpenFailed;
    }
    const std::uint32_t slots = segment.slot_count();
    const std::uint32_t buffers = segment.buffers_per_slot();
    control.ready.store(1, std::memory_order_release);
    segment.router_bell().ring();
    log->debug("worker started pid={} stage={} ops={}", getpid(), args.stage, ops.size());

    std::int64_t previous_end = 0;  // when this worker finished its last frame
    bool lowered = args.nice == 0;  // below the daemon yet (see lower_priority)
    // The ops' time on one frame from which the worker lowers itself (see below).
    constexpr std::int64_t kLowerAfterOpsNs = 1'000'000;
    for (;;) {
      control.heartbeat.fetch_add(1, std::memory_order_relaxed);
      const std::uint32_t seen = control.bell.prepare();
      std::uint32_t index;
      if (!in.try_pop(index)) {
        if (!control.bell.wait(seen, std::chrono::milliseconds(200)) &&
            getppid() != args.parent)
          return kWorkerExitOrphaned;
        continue;
      }
      if (index == kStopWorker) break;
      if (index >= slots) {
        log->critical("slot index {} out of range (segment has {} slots)", index, slots);
        std::abort();
      }
      const std::int64_t start = monotonic_ns();
      control.slot_started_ns.store(start, std::memory_order_relaxed);
      control.current_slot.store(index, std::memory_order_release);
      SlotHeader& h = segment.slot(index);
      const FrameFormat in_format{h.width, h.height, h.type};
      // The transport's share of the wait: not the time the frame queued behind the previous one.
      h.started_ns = start;
      h.pickup_ns = start - std::max(h.dispatched_ns, previous_end);
      Status s;
      if (args.max_latency_us > 0 && start - h.meta.capture_ns > std::int64_t{args.max_latency_us} * 1000) {
        h.drop = static_cast<std::uint32_t>(DropReason::kTooOld);  // not worth processing any more
      } else if (in_format != chain.input()) {
        s = Status::error("frame is " + in_format.describe() + ", the stage expects " + chain.input().describe());
      } else if (h.buffer >= buffers) {  // written by the worker of the stage before
        s = Status::error("the frame is in buffer " + std::to_string(h.buffer) + " of a slot of " + std::to_string(buffers));
      } else {
        std::uint8_t* const slot_buffers[2] = {segment.buffer(index, 0), segment.buffer(index, buffers == 2 ? 1 : 0)};
        int current = static_cast<int>(h.buffer);
        // Ops change a copy of the metadata: a frame retried after a crash starts from the original.
        FrameMeta meta = h.meta;
        // The first frame of a clockless source, alone in the pipeline: every core for it.
        const int threads = std::max(args.threads, static_cast<int>(h.opencv_threads));
        if (threads != args.threads) {
          log->debug("frame {} alone in the pipeline: its ops on {} OpenCV threads", meta.seq, threads);
          cv::setNumThreads(threads);
        }
        s = chain.run(slot_buffers, current, meta, &h.input_intact);
        if (threads != args.threads) cv::setNumThreads(args.threads);
        h.meta = meta;
        h.buffer = static_cast<std::uint32_t>(current);
        h.width = chain.output().width;
        h.height = chain.output().height;
        h.type = chain.output().type;
      }
      if (!s) {
        set_slot_error(h, s.message());
        control.frames_failed.fetch_add(1, std::memory_order_relaxed);
      }
      previous_end = monotonic_ns();
      h.ops_ns = previous_end - start;
      control.busy_ns.fetch_add(static_cast<std::uint64_t>(h.ops_ns), std::memory_order_relaxed);
      control.frames_processed.fetch_add(1, std::memory_order_relaxed);
      if (!out.try_push(index)) {
        log->critical("out ring full: the daemon gave this worker more slots than exist");
        std::abort();
      }
      // Only once it is handed back: a worker that dies in between has its slot collected,
      // never re-run on a frame that was already processed.
      control.current_slot.store(kNoSlot, std::memory_order_release);
      segment.router_bell().ring();
      // Below the daemon from now on, so that when the cores are full its capture thread gets one
      // first: the pipeline can only run as fast as frames come in. Not before this first frame:
      // while the capture fills the slots at start-up, a lowered worker would get a fraction of a
      // core, and the first frame out would wait for that burst. Nor while its frames are short:
      // a worker that gives its core back within a millisecond never holds the capture up for
      // long, and once lowered, the scheduler lets it wait behind the daemon's threads each time
      // it is woken, which would lengthen every hop for nothing.
      if (!lowered && previous_end - start >= kLowerAfterOpsNs) {
        lowered = true;
        if (const std::string error = lower_priority(args.nice); !error.empty())
          log->warn("cannot lower its priority by nice {}: {}", args.nice, error);
      }
    }
    log->debug("worker stopping pid={}", getpid());
    return kWorkerExitOk;
  } catch (const std::exception& e) {
    log->error("cannot start: {}", e.what());
    return kWorkerExitSetup;
  }
}

}  // namespace cvpipe
