// Binomial trees: log2(n) latencies for small broadcasts and reductions.
//
// Ranks are renumbered relative to the root (v = r - root mod n). In a
// broadcast, v receives from v minus its lowest set bit and then sends to
// v + 2^j for every 2^j below that bit; a reduction runs the same tree
// upwards, each rank combining its children's partial results before sending
// to its parent.
#include "coll/algorithm.h"

namespace weft::coll {

void broadcast_tree(Context& ctx, char* buf, size_t count, int root) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t bytes = count * ctx.esize();
  const int v = mod(r - root, n);
  int mask = 1;
  while (mask < n) {
    if (v & mask) {
      ctx.wait(ctx.recv(mod(v - mask + root, n), 0, buf, bytes));
      break;
    }
    mask <<= 1;
  }
  std::vector<transport::RequestPtr> sends;
  for (mask >>= 1; mask > 0; mask >>= 1)
    if (v + mask < n) sends.push_back(ctx.send(mod(v + mask + root, n), 0, buf, bytes));
  ctx.wait_all(sends);
}

void reduce_tree(Context& ctx, const char* in, char* out, size_t count, int root) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t bytes = count * ctx.esize();
  const int v = mod(r - root, n);
  // The root accumulates in `out`; the others in scratch.
  char* acc = r == root ? out : ctx.scratch().get(1, bytes);
  char* tmp = ctx.scratch().get(0, bytes);
  copy_if_distinct(acc, in, bytes);
  for (int mask = 1; mask < n; mask <<= 1) {
    if (v & mask) {
      ctx.wait(ctx.send(mod(v - mask + root, n), 0, acc, bytes));
      break;
    }
    if (v + mask < n) {
      ctx.wait(ctx.recv(mod(v + mask + root, n), 0, tmp, bytes));
      reduce(acc, acc, tmp, count, ctx.dtype(), ctx.op());
    }
  }
  if (r == root && ctx.op() == ReduceOp::avg) scale_for_average(out, count, ctx.dtype(), n);
}

}  // namespace weft::coll
