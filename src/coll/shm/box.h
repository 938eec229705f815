// The box variants of the shared-memory collectives (box.cc), for
// operations whose data fits in a box (shm/group.h, "boxes": a line with
// the step, the descriptor and 48 bytes, then up to four lines of payload):
// each rank writes its data, the packed descriptor and the step into its own
// box; every rank reads every other rank's. No slot, no round, no phase: one
// store the peers poll, and per peer the lines its size needs. intra.cc
// calls them when fits_box() says so; their arguments are those of the
// intra.cc function of the same collective.
#pragma once

#include <cstddef>
#include <string>

#include "coll/context.h"
#include "shm/group.h"

namespace weft::coll {

// Whether an operation in which each rank contributes `bytes` (allreduce,
// reduce, broadcast: the message; allgather: one rank's block) runs through
// the boxes. It depends on the operation's size only, the same on every rank
// that agrees on the operation; ranks that disagree (another count or dtype)
// may land on different paths, and the group's waits report that as
// Mismatch.
inline bool fits_box(size_t bytes) { return bytes <= shm::Group::kBoxPayload; }

void allreduce_box(Context& ctx, const char* in, char* out, size_t count, int root, ReduceOp op,
                   int average_over);
void allgather_box(Context& ctx, const char* in, char* out, size_t count);
void broadcast_box(Context& ctx, char* buf, size_t count, int root);
void barrier_box(Context& ctx);

// How the group's Mismatch messages describe a round's header and a box's
// packed descriptor (installed by every shm operation before it waits).
void install_describers(shm::Group& g);

}  // namespace weft::coll
