// Whether the other processes of a host group are still alive: a pidfd per
// process becomes readable when it exits (zombies included), so a dead peer
// is seen within one poll instead of at the next timeout. Shared by the
// shared-memory collectives (shm/group.h) and the shared-memory
// point-to-point transport (transport/shm/).
#pragma once

#include <cstdint>
#include <vector>

#include "net/fd.h"

namespace weft::shm {

// A descriptor that becomes readable when `pid` exits, or an invalid Fd
// where pidfds are unavailable (old kernels: liveness is then left to the
// timeouts).
net::Fd open_pidfd(int64_t pid);

// The index of an entry whose process exited, or -1 (invalid Fds skipped).
int first_exited(const std::vector<net::Fd>& pidfds);

}  // namespace weft::shm
