// Collectives across hosts, hierarchically. Allreduce: the ranks of each
// host reduce into their leader (the host's lowest rank) through shared
// memory, the leaders allreduce among themselves over sockets with the flat
// algorithm that suits the size, and each leader broadcasts the result to
// its host through shared memory. Only one rank per host touches the
// network, and each host sends its data once instead of once per rank.
//
// Broadcast and reduce do the same around a root: on the root's host the
// root itself stands for the host ("host root"), elsewhere the leader.
#include <algorithm>

#include "coll/algorithm.h"
#include "coll/planner.h"
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

namespace {

// The rank that stands for `rank`'s host when the operation's root is `root`.
int host_root(const Topology& topo, int rank, int root) {
  const int leader = topo.host_leader[static_cast<size_t>(rank)];
  return leader == topo.host_leader[static_cast<size_t>(root)] ? root : leader;
}

// Every host's host root, sorted; `root_index` gets root's position.
std::vector<int> host_roots(const Topology& topo, int root, int& root_index) {
  std::vector<int> roots;
  for (int leader : topo.leaders) roots.push_back(host_root(topo, leader, root));
  std::sort(roots.begin(), roots.end());
  root_index = static_cast<int>(std::find(roots.begin(), roots.end(), root) - roots.begin());
  return roots;
}

// `rank`'s index in this host's shared-memory group.
int local_index(const shm::Group& g, int rank) {
  for (int i = 0; i < g.local_size(); ++i)
    if (g.global_rank(i) == rank) return i;
  WEFT_ASSERT(false);
  return -1;
}

}  // namespace

void broadcast_hierarchical(Context& ctx, const Topology& topo, char* buf, size_t count,
                            int root) {
  shm::Group* g = ctx.shm();
  const int mine = host_root(topo, ctx.rank(), root);
  if (ctx.rank() == mine) {
    int root_index = 0;
    Context among(ctx, host_roots(topo, root, root_index), ctx.desc());
    if (among.size() > 1) {
      if (count * ctx.esize() <= kHierarchicalRingBytes)
        broadcast_tree(among, buf, count, root_index);
      else
        broadcast_chain(among, buf, count, root_index);
    }
  }
  if (g) broadcast_shm(ctx, buf, count, local_index(*g, mine));
}

void reduce_hierarchical(Context& ctx, const Topology& topo, const char* in, char* out,
                         size_t count, int root) {
  shm::Group* g = ctx.shm();
  const int mine = host_root(topo, ctx.rank(), root);
  const ReduceOp op = ctx.op() == ReduceOp::avg ? ReduceOp::sum : ctx.op();
  // The host's partial result: in `out` on the root, in scratch on the other
  // host roots (their `out` may be null).
  char* acc = ctx.rank() == root ? out
              : ctx.rank() == mine ? ctx.scratch().get(kHierarchicalScratch, count * ctx.esize())
                                   : nullptr;
  if (g)
    allreduce_shm(ctx, in, acc, count, local_index(*g, mine), op, /*average_over=*/0);
  else
    copy_if_distinct(acc, in, count * ctx.esize());
  if (ctx.rank() == mine) {
    int root_index = 0;
    OpDesc desc = ctx.desc();
    desc.op = op;
    Context among(ctx, host_roots(topo, root, root_index), desc);
    if (among.size() > 1) {
      if (count * ctx.esize() <= kHierarchicalRingBytes)
        reduce_tree(among, acc, acc, count, root_index);
      else
        reduce_ring(among, acc, acc, count, root_index);
    }
  }
  if (ctx.rank() == root && ctx.op() == ReduceOp::avg)
    scale_for_average(out, count, ctx.dtype(), ctx.size());
}

}  // namespace weft::coll
