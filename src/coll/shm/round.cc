#include "coll/shm/round.h"

#include "weft/error.h"

namespace weft::coll {

void Round::arrive() {
  g_.wait_all(g_.signal(), ctx_.deadline());
  // The peers' descriptors and the first line of their slots are cache
  // misses (they wrote them): start the slots' loads now, so that they
  // overlap with the descriptors' instead of following them.
  for (int q = 0; q < g_.local_size(); ++q)
    if (q != g_.local_rank()) __builtin_prefetch(g_.slot(q, half_));
  const transport::OpHeader& mine = g_.desc(g_.local_rank(), half_);
  for (int q = 0; q < g_.local_size(); ++q) {
    if (q == g_.local_rank()) continue;
    const transport::OpHeader& theirs = g_.desc(q, half_);
    if (theirs == mine) continue;
    throw_error(ErrorCode::Mismatch,
                str(OpDesc::from_header(mine).describe(), " on rank ",
                    g_.global_rank(g_.local_rank()), " does not match peer rank ",
                    g_.global_rank(q), "'s ", OpDesc::from_header(theirs).describe(),
                    " (seen in shared memory)"));
  }
}

}  // namespace weft::coll
