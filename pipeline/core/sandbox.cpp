#include "pipeline/core/sandbox.hpp"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string_view>

namespace cvpipe {
namespace {

constexpr std::array<std::string_view, 16> kKeptPrefixes = {
    "SPDLOG_", "OPENCV_", "OMP_", "TBB_", "LANG=", "LC_", "TZ=", "PATH=", "HOME=", "TMPDIR=", "LD_LIBRARY_PATH=",
    "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "TSAN_OPTIONS=", "LSAN_OPTIONS=", "MALLOC_"};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

#if defined(__x86_64__)
constexpr std::uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t kArch = AUDIT_ARCH_AARCH64;
#else
constexpr std::uint32_t kArch = 0;  // no filter
#endif

// The system calls refused. (Those an architecture does not have are left out by the #ifdefs.)
constexpr int kRefused[] = {
    SYS_execve, SYS_execveat,
#ifdef SYS_fork
    SYS_fork,
#endif
#ifdef SYS_vfork
    SYS_vfork,
#endif
    SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev, SYS_socket, SYS_socketpair, SYS_connect, SYS_bind,
    SYS_listen, SYS_accept, SYS_accept4, SYS_kexec_load, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot,
    SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_bpf, SYS_perf_event_open, SYS_keyctl, SYS_add_key,
    SYS_request_key, SYS_userfaultfd, SYS_setns, SYS_unshare, SYS_personality};

sock_filter stmt(std::uint16_t code, std::uint32_t k) { return BPF_STMT(code, k); }
sock_filter jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
  return BPF_JUMP(code, k, jt, jf);
}

}  // namespace

std::vector<std::string> worker_environment(char** environ) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view var = *e;
    for (std::string_view prefix : kKeptPrefixes)
      if (var.substr(0, prefix.size()) == prefix) {
        out.emplace_back(var);
        break;
      }
  }
  return out;
}

std::string restrict_process() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return std::string("no_new_privs: ") + std::strerror(errno);
  if (kSanitized || kArch == 0) return "";
  constexpr std::uint32_t kDeny = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
  std::vector<sock_filter> program = {
      // Another architecture's calls (x86_64's x32 ABI included) are refused whole.
      stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      jump(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
      stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
#if defined(__x86_64__)
      jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),  // __X32_SYSCALL_BIT
      stmt(BPF_RET | BPF_K, kDeny),
#endif
  };
  for (int nr : kRefused) {
    program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 1));
    program.push_back(stmt(BPF_RET | BPF_K, kDeny));
  }
  // clone3 hides its flags in memory a filter cannot read: ENOSYS makes glibc fall back to clone,
  // whose flags it can. A clone that does not share the address space (a new process) is refused.
  program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1));
  program.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)));
  program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3));
  program.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));  // flags, low word
  program.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, CLONE_VM, 1, 0));
  program.push_back(stmt(BPF_RET | BPF_K, kDeny));
  program.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  const sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) != 0)
    return std::string("seccomp filter: ") + std::strerror(errno);
  return "";
}

}  // namespace cvpipe
