// Recursive doubling allreduce: latency-optimal for small messages.
//
// With p = 2^k ranks, round i pairs rank r with r XOR 2^i; both exchange
// their whole vector and reduce, so after k rounds everyone holds the full
// reduction: log2(p) message latencies instead of the ring's 2(n-1).
//
// Any other n = p + rem (p the largest power of two below n) first folds the
// extra ranks in: among the first 2*rem ranks, each even rank hands its data
// to the odd rank above it and sits out; the p remaining ranks run the
// rounds; the odd ranks then hand the result back. Floating-point sums stay
// identical on every rank because each round combines the same two partial
// sums on both sides (a + b == b + a exactly).
#include "coll/algorithm.h"

namespace weft::coll {

void allreduce_recursive_doubling(Context& ctx, const char* in, char* out, size_t count) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t bytes = count * ctx.esize();
  copy_if_distinct(out, in, bytes);
  if (n > 1) {
    int p = 1;
    while (p * 2 <= n) p *= 2;
    const int rem = n - p;
    char* tmp = ctx.scratch().get(0, bytes);
    uint32_t sub = 0;

    // Fold: rank 2i gives its vector to rank 2i + 1 (i < rem).
    int vrank;
    if (r < 2 * rem) {
      if (r % 2 == 0) {
        ctx.wait(ctx.send(r + 1, sub, out, bytes));
        vrank = -1;
      } else {
        ctx.wait(ctx.recv(r - 1, sub, tmp, bytes));
        reduce(out, out, tmp, count, ctx.dtype(), ctx.op());
        vrank = r / 2;
      }
    } else {
      vrank = r - rem;
    }
    ++sub;

    if (vrank >= 0) {
      for (int mask = 1; mask < p; mask <<= 1, ++sub) {
        const int vpeer = vrank ^ mask;
        const int peer = vpeer < rem ? vpeer * 2 + 1 : vpeer + rem;
        auto rq = ctx.recv(peer, sub, tmp, bytes);
        auto sq = ctx.send(peer, sub, out, bytes);
        ctx.wait(rq);
        ctx.wait(sq);  // `out` changes next
        // Lower virtual rank first, so that both partners compute a op b in the
        // same order (exactly equal results even for non-commutative rounding).
        if (vpeer < vrank)
          reduce(out, tmp, out, count, ctx.dtype(), ctx.op());
        else
          reduce(out, out, tmp, count, ctx.dtype(), ctx.op());
      }
    } else {
      sub += static_cast<uint32_t>(__builtin_ctz(static_cast<unsigned>(p)));
    }

    // Unfold: the odd ranks hand the result back.
    if (r < 2 * rem) {
      if (r % 2 == 1)
        ctx.wait(ctx.send(r - 1, sub, out, bytes));
      else
        ctx.wait(ctx.recv(r + 1, sub, out, bytes));
    }
  }
  if (ctx.op() == ReduceOp::avg) scale_for_average(out, count, ctx.dtype(), n);
}

}  // namespace weft::coll
