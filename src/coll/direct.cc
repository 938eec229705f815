// Algorithms in which ranks talk to their peers directly.
//
// gather / scatter: the root posts one receive (send) per rank; n - 1
// messages are in flight at once, and the root's link is the bottleneck,
// which no algorithm avoids for these two collectives.
// alltoall(v): every pair exchanges one message; receives are all posted
// first, sends go out in the order r+1, r+2, ... so that at any moment each
// rank sends to a different peer.
// barrier: dissemination — in round k every rank signals r + 2^k and waits
// for r - 2^k; after ceil(log2 n) rounds each rank has (transitively) heard
// from all others.
#include "coll/algorithm.h"

namespace weft::coll {

using transport::RequestPtr;

void gather_direct(Context& ctx, const char* in, char* out, size_t count, int root) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t bytes = count * ctx.esize();
  std::vector<RequestPtr> requests;
  if (r == root) {
    for (int q = 0; q < n; ++q)
      if (q != root) requests.push_back(ctx.recv(q, 0, out + bytes * static_cast<size_t>(q), bytes));
    copy_if_distinct(out + bytes * static_cast<size_t>(r), in, bytes);
  } else {
    requests.push_back(ctx.send(root, 0, in, bytes));
  }
  ctx.wait_all(requests);
}

void scatter_direct(Context& ctx, const char* in, char* out, size_t count, int root) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t bytes = count * ctx.esize();
  std::vector<RequestPtr> requests;
  if (r == root) {
    for (int i = 1; i < n; ++i) {
      const int q = mod(r + i, n);
      requests.push_back(ctx.send(q, 0, in + bytes * static_cast<size_t>(q), bytes));
    }
    copy_if_distinct(out, in + bytes * static_cast<size_t>(r), bytes);
  } else {
    requests.push_back(ctx.recv(root, 0, out, bytes));
  }
  ctx.wait_all(requests);
}

void alltoallv_pairwise(Context& ctx, const char* in, const size_t* send_counts,
                        const size_t* send_displs, char* out, const size_t* recv_counts,
                        const size_t* recv_displs) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t es = ctx.esize();
  std::vector<RequestPtr> requests;
  for (int i = 1; i < n; ++i) {
    const int q = mod(r - i, n);
    requests.push_back(ctx.recv(q, 0, out + recv_displs[q] * es, recv_counts[q] * es));
  }
  for (int i = 1; i < n; ++i) {
    const int q = mod(r + i, n);
    requests.push_back(ctx.send(q, 0, in + send_displs[q] * es, send_counts[q] * es));
  }
  WEFT_REQUIRE(send_counts[r] == recv_counts[r], "alltoallv: rank ", r, " sends ",
               send_counts[r], " elements to itself but expects ", recv_counts[r]);
  copy_if_distinct(out + recv_displs[r] * es, in + send_displs[r] * es, send_counts[r] * es);
  ctx.wait_all(requests);
}

void barrier_dissemination(Context& ctx) {
  const int n = ctx.size(), r = ctx.rank();
  uint32_t round = 0;
  for (int k = 1; k < n; k <<= 1, ++round) {
    auto rq = ctx.recv(mod(r - k, n), round, nullptr, 0);
    auto sq = ctx.send(mod(r + k, n), round, nullptr, 0);
    ctx.wait(rq);
    ctx.wait(sq);
  }
}

}  // namespace weft::coll
