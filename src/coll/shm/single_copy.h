// The single-copy variants of the shared-memory collectives (single_copy.cc):
// the peers' buffers are read directly with cross-memory attach. intra.cc
// calls them when use_single_copy() says so; their arguments are those of
// the intra.cc function of the same collective.
#pragma once

#include <cstddef>

#include "coll/context.h"
#include "shm/group.h"

namespace weft::coll {

// Whether an operation in which a rank reads `per_peer` bytes from one peer
// (allreduce: a 1/n share; reduce_scatter, allgather: a block; broadcast:
// all but the root's part) takes the single copy. The threshold is per peer
// because each read costs a system call and the pinning of the peer's pages:
// small reads lose to copies through the cache-resident segment, and more
// ranks make them smaller. The same answer on every member (the group
// agreed on both facts at init, the arguments are the operation's), so
// ranks never split between this path and the segment's. `copy_only`:
// allgather and broadcast, whose threshold is lower (shm/group.cc says why).
bool use_single_copy(const shm::Group& g, size_t per_peer, bool copy_only = false);

void allreduce_single_copy(Context& ctx, const char* in, char* out, size_t count, int root,
                           ReduceOp op, int average_over);
void reduce_scatter_single_copy(Context& ctx, const char* in, char* out, size_t recv_count);
void allgather_single_copy(Context& ctx, const char* in, char* out, size_t count);
void broadcast_single_copy(Context& ctx, char* buf, size_t count, int root);

}  // namespace weft::coll
