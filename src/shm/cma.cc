#include "shm/cma.h"

#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "weft/error.h"

namespace weft::shm::cma {

std::string allow_peers() {
  std::ifstream scope_file("/proc/sys/kernel/yama/ptrace_scope");
  int scope = -1;
  if (!(scope_file >> scope) || scope != 1) return "";
  // Scope 1 lets only ancestors (or a declared tracer) attach; our peers are
  // siblings. Scope 2 and 3 need CAP_SYS_PTRACE or nothing helps: the probe
  // finds out.
  if (::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0) != 0)
    return str("Yama ptrace_scope=1 and prctl(PR_SET_PTRACER_ANY) failed: ", std::strerror(errno));
  return "Yama ptrace_scope=1: allowed peers with prctl(PR_SET_PTRACER_ANY)";
}

namespace {

// process_vm_readv or _writev until all is moved: 0 or the errno.
int transfer(int64_t pid, char* local, uint64_t remote, size_t bytes, bool write) {
  while (bytes > 0) {
    iovec l{local, bytes};
    iovec r{reinterpret_cast<void*>(remote), bytes};
    const ssize_t n = write ? ::process_vm_writev(static_cast<pid_t>(pid), &l, 1, &r, 1, 0)
                            : ::process_vm_readv(static_cast<pid_t>(pid), &l, 1, &r, 1, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    // A short read stops where the peer's mapping (or ours) ends: going on
    // would fail there anyway.
    if (n == 0) return EFAULT;
    local += n, remote += static_cast<uint64_t>(n), bytes -= static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

int read(int64_t pid, void* local, uint64_t remote, size_t bytes) {
  return transfer(pid, static_cast<char*>(local), remote, bytes, false);
}

int write(int64_t pid, uint64_t remote, const void* local, size_t bytes) {
  return transfer(pid, const_cast<char*>(static_cast<const char*>(local)), remote, bytes, true);
}

}  // namespace weft::shm::cma
