#include "coll/collectives.h"

#include "coll/algorithm.h"

namespace weft::coll {

namespace {
const char* cin(const void* p) { return static_cast<const char*>(p); }
char* cout(void* p) { return static_cast<char*>(p); }
}  // namespace

// The planner picks shm only when ctx.shm() spans the whole communicator
// (its local ranks are the ranks), and hierarchical only with a topology.
void allreduce(Context& ctx, const Planner& planner, const void* in, void* out, size_t count) {
  switch (planner.choose(OpKind::allreduce, count * ctx.esize(), ctx.size())) {
    case Algo::shm:
      return allreduce_shm(ctx, cin(in), cout(out), count, -1, ctx.op(), ctx.size());
    case Algo::hierarchical:
      return allreduce_hierarchical(ctx, planner.topology().leaders, cin(in), cout(out), count);
    case Algo::ring:
      return allreduce_ring(ctx, cin(in), cout(out), count);
    default:
      return allreduce_recursive_doubling(ctx, cin(in), cout(out), count);
  }
}

void reduce(Context& ctx, const Planner& planner, const void* in, void* out, size_t count,
            int root) {
  switch (planner.choose(OpKind::reduce, count * ctx.esize(), ctx.size())) {
    case Algo::shm:
      return allreduce_shm(ctx, cin(in), cout(out), count, root, ctx.op(), ctx.size());
    case Algo::hierarchical:
      return reduce_hierarchical(ctx, planner.topology(), cin(in), cout(out), count, root);
    case Algo::ring:
      return reduce_ring(ctx, cin(in), cout(out), count, root);
    default:
      return reduce_tree(ctx, cin(in), cout(out), count, root);
  }
}

void broadcast(Context& ctx, const Planner& planner, void* buf, size_t count, int root) {
  if (ctx.size() == 1) return;
  switch (planner.choose(OpKind::broadcast, count * ctx.esize(), ctx.size())) {
    case Algo::shm:
      return broadcast_shm(ctx, cout(buf), count, root);
    case Algo::hierarchical:
      return broadcast_hierarchical(ctx, planner.topology(), cout(buf), count, root);
    case Algo::chain:
      return broadcast_chain(ctx, cout(buf), count, root);
    default:
      return broadcast_tree(ctx, cout(buf), count, root);
  }
}

void allgather(Context& ctx, const Planner& planner, const void* in, void* out, size_t count) {
  if (planner.choose(OpKind::allgather, count * ctx.esize(), ctx.size()) == Algo::shm)
    return allgather_shm(ctx, cin(in), cout(out), count);
  allgather_ring(ctx, cin(in), cout(out), Blocks::even(count * static_cast<size_t>(ctx.size()),
                                                       ctx.size()));
}

void allgatherv(Context& ctx, const Planner& planner, const void* in, void* out,
                std::span<const size_t> counts, std::span<const size_t> displs) {
  planner.choose(OpKind::allgatherv, 0, ctx.size());
  Blocks blocks;
  blocks.offset.assign(displs.begin(), displs.end());
  blocks.count.assign(counts.begin(), counts.end());
  allgather_ring(ctx, cin(in), cout(out), blocks);
}

void reduce_scatter(Context& ctx, const Planner& planner, const void* in, void* out,
                    size_t recv_count) {
  if (planner.choose(OpKind::reduce_scatter, recv_count * ctx.esize(), ctx.size()) == Algo::shm)
    return reduce_scatter_shm(ctx, cin(in), cout(out), recv_count);
  reduce_scatter_ring(ctx, cin(in), cout(out), recv_count);
}

void alltoall(Context& ctx, const Planner& planner, const void* in, void* out, size_t count) {
  planner.choose(OpKind::alltoall, count * ctx.esize(), ctx.size());
  const size_t n = static_cast<size_t>(ctx.size()), bytes = count * n * ctx.esize();
  if (in == out) {  // in place: every block is read after being overwritten otherwise
    char* copy = ctx.scratch().get(4, bytes);
    copy_bytes(copy, in, bytes);
    in = copy;
  }
  std::vector<size_t> counts(n, count), displs(n);
  for (size_t i = 0; i < n; ++i) displs[i] = i * count;
  alltoallv_pairwise(ctx, cin(in), counts.data(), displs.data(), cout(out), counts.data(),
                     displs.data());
}

void alltoallv(Context& ctx, const Planner& planner, const void* in,
               std::span<const size_t> send_counts, std::span<const size_t> send_displs,
               void* out, std::span<const size_t> recv_counts,
               std::span<const size_t> recv_displs) {
  planner.choose(OpKind::alltoallv, 0, ctx.size());
  if (in == out) {
    size_t end = 0;
    for (size_t i = 0; i < send_counts.size(); ++i)
      end = std::max(end, send_displs[i] + send_counts[i]);
    char* copy = ctx.scratch().get(4, end * ctx.esize());
    copy_bytes(copy, in, end * ctx.esize());
    in = copy;
  }
  alltoallv_pairwise(ctx, cin(in), send_counts.data(), send_displs.data(), cout(out),
                     recv_counts.data(), recv_displs.data());
}

void gather(Context& ctx, const Planner& planner, const void* in, void* out, size_t count,
            int root) {
  planner.choose(OpKind::gather, count * ctx.esize(), ctx.size());
  gather_direct(ctx, cin(in), cout(out), count, root);
}

void scatter(Context& ctx, const Planner& planner, const void* in, void* out, size_t count,
             int root) {
  planner.choose(OpKind::scatter, count * ctx.esize(), ctx.size());
  scatter_direct(ctx, cin(in), cout(out), count, root);
}

void barrier(Context& ctx, const Planner& planner) {
  if (planner.choose(OpKind::barrier, 0, ctx.size()) == Algo::shm)
    return barrier_shm(ctx);
  barrier_dissemination(ctx);
}

}  // namespace weft::coll
