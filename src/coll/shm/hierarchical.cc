// Allreduce across hosts, hierarchically: the ranks of each host reduce
// into their leader (the host's lowest rank) through shared memory, the
// leaders allreduce among themselves over sockets with the flat algorithm
// the planner would pick for them, and each leader broadcasts the result to
// its host through shared memory. Only one rank per host touches the
// network, and each host sends its data once instead of once per rank.
#include "coll/algorithm.h"
#include "coll/shm/round.h"

namespace weft::coll {

void allreduce_hierarchical(Context& ctx, const std::vector<int>& leaders, const char* in,
                            char* out, size_t count) {
  shm::Group* g = ctx.shm();
  const bool leader = !g || g->local_rank() == 0;
  // Hosts add up partial sums; the average divides once, by everyone.
  const ReduceOp op = ctx.op() == ReduceOp::avg ? ReduceOp::sum : ctx.op();
  if (g)
    allreduce_shm(ctx, in, out, count, /*root=*/0, op, /*average_over=*/0);
  else
    copy_if_distinct(out, in, count * ctx.esize());
  if (leader && leaders.size() > 1) {
    OpDesc desc = ctx.desc();
    desc.op = op;
    Context among(ctx, leaders, desc);
    if (count * ctx.esize() <= kHierarchicalRingBytes)
      allreduce_recursive_doubling(among, out, out, count);
    else
      allreduce_ring(among, out, out, count);
  }
  if (leader && ctx.op() == ReduceOp::avg)
    scale_for_average(out, count, ctx.dtype(), ctx.size());
  if (g) broadcast_shm(ctx, out, count, /*root=*/0);
}

}  // namespace weft::coll
