// Pipelined chain broadcast for large messages.
//
// Ranks form a chain from the root (root, root+1, ...). The buffer moves in
// chunks; each rank forwards chunk c as soon as it arrived, while chunk c+1
// is on its way, so the time is about (chunks + n - 2) chunk transfers instead
// of log2(n) full-message transfers for a tree.
#include "coll/algorithm.h"

namespace weft::coll {

void broadcast_chain(Context& ctx, char* buf, size_t count, int root) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t es = ctx.esize(), bytes = count * es;
  const int v = mod(r - root, n);
  const int prev = mod(r - 1, n), next = mod(r + 1, n);
  const bool has_next = v + 1 < n;
  // Chunks of about kChunkBytes; sub-tags stay below kMaxSub.
  size_t nchunks = std::max<size_t>(1, (bytes + kChunkBytes - 1) / kChunkBytes);
  nchunks = std::min<size_t>(nchunks, Context::kMaxSub - 1);
  const int nc = static_cast<int>(nchunks);
  std::vector<transport::RequestPtr> recvs, sends;
  auto range = [&](int c, char*& p, size_t& len) {
    size_t lo = chunk_begin(count, c, nc), hi = chunk_begin(count, c + 1, nc);
    p = buf + lo * es;
    len = (hi - lo) * es;
  };
  if (v > 0) {
    for (int c = 0; c < nc; ++c) {
      char* p;
      size_t len;
      range(c, p, len);
      recvs.push_back(ctx.recv(prev, static_cast<uint32_t>(c), p, len));
    }
  }
  for (int c = 0; c < nc; ++c) {
    if (v > 0) ctx.wait(recvs[c]);
    if (has_next) {
      char* p;
      size_t len;
      range(c, p, len);
      sends.push_back(ctx.send(next, static_cast<uint32_t>(c), p, len));
    }
  }
  ctx.wait_all(sends);
}

}  // namespace weft::coll
