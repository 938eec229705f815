#include "coll/shm/round.h"

#include "coll/shm/box.h"
#include "weft/error.h"

namespace weft::coll {

int Round::begin(Context& ctx) {
  install_describers(*ctx.shm());
  return ctx.shm()->begin_round(ctx.desc().header(), ctx.deadline());
}

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
    g_.mismatch(OpDesc::from_header(mine).describe(), q, OpDesc::from_header(theirs).describe());
  }
}

}  // namespace weft::coll
