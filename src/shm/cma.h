// Cross-memory attach (CMA): one process copies straight out of another's
// memory with process_vm_readv, one copy instead of two through a shared
// segment. The kernel pins the peer's pages and copies them into ours; it
// allows this when we may ptrace the peer (same user, and Yama, where
// present, not refusing it: ptrace_scope 1 refuses siblings unless the peer
// named us, or anyone, with PR_SET_PTRACER).
//
// Whether it works between the ranks of a host is decided once, at the
// group's join, by a real read from every peer (shm::Group::join), never
// assumed: containers, seccomp filters, different users or pid namespaces
// and Yama all make it fail in ways only trying shows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace weft::shm::cma {

// Where Yama's ptrace_scope is 1, lets any process of this user read this
// process's memory (prctl PR_SET_PTRACER_ANY, what Open MPI does too).
// Returns what it did, for the log ("" when nothing was needed).
std::string allow_peers();

// Reads `bytes` at address `remote` of process `pid` into `local`: 0, or the
// errno of the failure (a short read, e.g. past the peer's mapping, is EFAULT).
int read(int64_t pid, void* local, uint64_t remote, size_t bytes);
// Writes `bytes` from `local` to address `remote` of process `pid`
// (process_vm_writev: the kernel checks the same rights as for reading).
int write(int64_t pid, uint64_t remote, const void* local, size_t bytes);

}  // namespace weft::shm::cma
