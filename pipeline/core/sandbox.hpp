#pragma once
// Least privilege for a process that runs code it does not trust (a worker running ops): what it
// may inherit from its parent's environment, and what it may ask of the kernel.
//
// restrict_process() sets no_new_privs (no exec of a set-uid program can give it more rights) and
// installs a seccomp filter that refuses, with EPERM, what an op never needs and an attacker who
// took over one would want: running programs (execve, a fork), the network (sockets), other
// processes' memory (ptrace, process_vm_*), and the kernel's own doors (modules, mounts, bpf,
// keyrings, namespaces). Threads stay allowed (OpenCV's). Sanitizer builds get no filter: their
// reports need ptrace and exec.
#include <string>
#include <vector>

namespace cvpipe {

// The environment a worker starts with: only the variables of `environ` that configure the
// libraries it runs (SPDLOG_*, OPENCV_*, OMP_*, the locale, TZ, the paths, the sanitizers'), so
// that none of the daemon's own (a camera's URL in CAMERA_URL, tokens) reaches an op.
std::vector<std::string> worker_environment(char** environ);

// Applies the restrictions above to the calling process and all its later threads. Call before it
// runs any thread but the calling one. Returns what could not be applied ("" when all was).
std::string restrict_process();

}  // namespace cvpipe
