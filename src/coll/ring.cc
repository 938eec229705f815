// Ring algorithms: bandwidth-optimal for large messages.
//
// Rank r sends only to r+1 and receives only from r-1. A buffer is cut into n
// blocks. Reduce-scatter takes n-1 steps: at step s rank r sends the partial
// sum of block (r - s) and receives block (r - s - 1), which it reduces with
// its own contribution and forwards at the next step; after n-1 steps each
// rank holds one block reduced over all ranks. Allgather then circulates the
// finished blocks for n-1 more steps. Every rank sends 2(n-1)/n of the buffer,
// the minimum for allreduce.
//
// Pipelining: every block moves in chunks, and each chunk is forwarded as soon
// as it is reduced, so the reduction of chunk c overlaps the transfer of chunk
// c+1 and the two phases overlap at their seam. Receives are posted a step
// ahead so that data lands in place instead of in an unexpected-message buffer.
#include "coll/algorithm.h"

namespace weft::coll {

using transport::RequestPtr;

void ring_reduce_scatter(Context& ctx, const char* in, const Blocks& blocks, int shift,
                         char* result, int nchunks, uint32_t sub_base, ChunkCallback on_final,
                         void* self, std::vector<RequestPtr>& step0_sends) {
  const int n = ctx.size(), r = ctx.rank(), next = mod(r + 1, n), prev = mod(r - 1, n);
  const int steps = n - 1;
  const size_t es = ctx.esize();
  const size_t block_bytes = blocks.max_count() * es;
  // Three rotating buffers: step s receives into buf[s % 3] and reduces there;
  // the result is sent at step s+1; the buffer is reused by step s+3, once
  // those sends completed.
  char* buf[3] = {ctx.scratch().get(0, block_bytes), ctx.scratch().get(1, block_bytes),
                  ctx.scratch().get(2, block_bytes)};
  auto send_block = [&](int s) { return mod(r - s + shift, n); };
  auto recv_block = [&](int s) { return mod(r - s - 1 + shift, n); };
  auto sub = [&](int s, int c) { return sub_base + static_cast<uint32_t>(s * nchunks + c); };

  std::vector<RequestPtr> recvs[3], sends[3];  // indexed by step % 3
  auto post_recvs = [&](int s) {
    const int b = recv_block(s);
    const size_t m = blocks.count[b];
    recvs[s % 3].assign(static_cast<size_t>(nchunks), nullptr);
    for (int c = 0; c < nchunks; ++c) {
      size_t lo = chunk_begin(m, c, nchunks), hi = chunk_begin(m, c + 1, nchunks);
      recvs[s % 3][c] = ctx.recv(prev, sub(s, c), buf[s % 3] + lo * es, (hi - lo) * es);
    }
  };

  post_recvs(0);
  {
    const int b = send_block(0);
    const size_t m = blocks.count[b];
    for (int c = 0; c < nchunks; ++c) {
      size_t lo = chunk_begin(m, c, nchunks), hi = chunk_begin(m, c + 1, nchunks);
      step0_sends.push_back(
          ctx.send(next, sub(0, c), in + (blocks.offset[b] + lo) * es, (hi - lo) * es));
    }
  }

  for (int s = 0; s < steps; ++s) {
    if (s + 1 < steps) {
      if (s >= 1) ctx.wait_all(sends[(s - 1) % 3]);  // they read buf[(s + 1) % 3]
      post_recvs(s + 1);
    }
    const int b = recv_block(s);
    const size_t m = blocks.count[b];
    const char* mine = in + blocks.offset[b] * es;
    const bool last = s == steps - 1;
    for (int c = 0; c < nchunks; ++c) {
      ctx.wait(recvs[s % 3][c]);
      size_t lo = chunk_begin(m, c, nchunks), hi = chunk_begin(m, c + 1, nchunks);
      char* partial = buf[s % 3] + lo * es;
      if (!last) {
        reduce(partial, mine + lo * es, partial, hi - lo, ctx.dtype(), ctx.op());
        sends[(s + 1) % 3].push_back(ctx.send(next, sub(s + 1, c), partial, (hi - lo) * es));
      } else {
        char* dst = result + lo * es;
        reduce(dst, mine + lo * es, partial, hi - lo, ctx.dtype(), ctx.op());
        on_final(self, c, dst, hi - lo);
      }
    }
  }
  for (auto& q : sends) ctx.wait_all(q);
}

void ring_allgather(Context& ctx, char* buf, const Blocks& blocks, int owned, int nchunks,
                    uint32_t sub_base, std::vector<RequestPtr>* recvs0,
                    std::vector<RequestPtr>& sends) {
  const int n = ctx.size(), next = mod(ctx.rank() + 1, n), prev = mod(ctx.rank() - 1, n);
  const int steps = n - 1;
  const size_t es = ctx.esize();
  auto recv_block = [&](int t) { return mod(owned - t - 1, n); };
  auto sub = [&](int t, int c) { return sub_base + static_cast<uint32_t>(t * nchunks + c); };
  auto chunk = [&](int b, int c, size_t& bytes) {
    size_t m = blocks.count[b];
    size_t lo = chunk_begin(m, c, nchunks), hi = chunk_begin(m, c + 1, nchunks);
    bytes = (hi - lo) * es;
    return buf + (blocks.offset[b] + lo) * es;
  };

  std::vector<RequestPtr> recvs[2];
  auto post_recvs = [&](int t) {
    recvs[t % 2].assign(static_cast<size_t>(nchunks), nullptr);
    for (int c = 0; c < nchunks; ++c) {
      size_t bytes;
      char* p = chunk(recv_block(t), c, bytes);
      recvs[t % 2][c] = ctx.recv(prev, sub(t, c), p, bytes);
    }
  };
  if (recvs0) {
    recvs[0] = std::move(*recvs0);
  } else {
    post_recvs(0);
    for (int c = 0; c < nchunks; ++c) {
      size_t bytes;
      char* p = chunk(owned, c, bytes);
      sends.push_back(ctx.send(next, sub(0, c), p, bytes));
    }
  }
  for (int t = 0; t < steps; ++t) {
    if (t + 1 < steps) post_recvs(t + 1);
    for (int c = 0; c < nchunks; ++c) {
      ctx.wait(recvs[t % 2][c]);
      if (t + 1 < steps) {
        size_t bytes;
        char* p = chunk(recv_block(t), c, bytes);
        sends.push_back(ctx.send(next, sub(t + 1, c), p, bytes));
      }
    }
  }
  ctx.wait_all(sends);
}

namespace {

// Sub-tags of one slice: reduce-scatter, allgather (or gather), both at most
// (n - 1) * kMaxChunks. Slices reuse sub-tags after `period` slices, long
// after the earlier slice's messages were consumed.
uint32_t slice_sub_base(int n, size_t slice) {
  const uint32_t per_slice = 2u * static_cast<uint32_t>(n) * kMaxChunks;
  const uint32_t period = Context::kMaxSub / per_slice;
  return static_cast<uint32_t>(slice % period) * per_slice;
}

// The allreduce's seam: as a chunk of the owned block becomes final, scale it
// (avg) and start the allgather for it.
struct AllreduceSeam {
  Context* ctx;
  const Blocks* blocks;
  char* out;
  int nchunks;
  uint32_t ag_base;
  std::vector<RequestPtr>* step0_sends;
  std::vector<RequestPtr> recvs0, sends;

  static void on_final(void* self, int c, char* data, size_t elems) {
    auto& s = *static_cast<AllreduceSeam*>(self);
    Context& ctx = *s.ctx;
    const int n = ctx.size(), r = ctx.rank();
    if (ctx.op() == ReduceOp::avg) scale_for_average(data, elems, ctx.dtype(), n);
    // The first allgather step receives block r, which the first
    // reduce-scatter step sent from the input: in place, that send must be
    // complete before the block is overwritten.
    ctx.wait((*s.step0_sends)[c]);
    const size_t es = ctx.esize(), m = s.blocks->count[r];
    size_t lo = chunk_begin(m, c, s.nchunks), hi = chunk_begin(m, c + 1, s.nchunks);
    if (s.recvs0.empty()) s.recvs0.assign(static_cast<size_t>(s.nchunks), nullptr);
    s.recvs0[c] = ctx.recv(mod(r - 1, n), s.ag_base + static_cast<uint32_t>(c),
                           s.out + (s.blocks->offset[r] + lo) * es, (hi - lo) * es);
    s.sends.push_back(
        ctx.send(mod(r + 1, n), s.ag_base + static_cast<uint32_t>(c), data, elems * es));
  }
};

struct Scaler {
  Context* ctx;
  static void on_final(void* self, int, char* data, size_t elems) {
    Context& ctx = *static_cast<Scaler*>(self)->ctx;
    if (ctx.op() == ReduceOp::avg) scale_for_average(data, elems, ctx.dtype(), ctx.size());
  }
};

}  // namespace

void allreduce_ring(Context& ctx, const char* in, char* out, size_t count) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t es = ctx.esize();
  if (n == 1) {
    copy_if_distinct(out, in, count * es);
    return;
  }
  const size_t slice_elems = std::max<size_t>(1, kMaxBlockBytes / es) * static_cast<size_t>(n);
  size_t slice = 0;
  for (size_t off = 0; off < count; off += slice_elems, ++slice) {
    const size_t m = std::min(slice_elems, count - off);
    const Blocks blocks = Blocks::even(m, n, off);
    const int nchunks = chunks_for(blocks.max_count() * es);
    const uint32_t base = slice_sub_base(n, slice);
    const uint32_t ag_base = base + static_cast<uint32_t>((n - 1) * nchunks);
    const int owned = mod(r + 1, n);
    std::vector<RequestPtr> step0;
    AllreduceSeam seam{&ctx, &blocks, out, nchunks, ag_base, &step0, {}, {}};
    ring_reduce_scatter(ctx, in, blocks, 0, out + blocks.offset[owned] * es, nchunks, base,
                        &AllreduceSeam::on_final, &seam, step0);
    ring_allgather(ctx, out, blocks, owned, nchunks, ag_base, &seam.recvs0, seam.sends);
    ctx.wait_all(step0);
  }
}

void reduce_scatter_ring(Context& ctx, const char* in, char* out, size_t recv_count) {
  const int n = ctx.size();
  const size_t es = ctx.esize();
  if (n == 1) {
    copy_if_distinct(out, in, recv_count * es);
    return;
  }
  const size_t cap = std::max<size_t>(1, kMaxBlockBytes / es);
  size_t slice = 0;
  for (size_t off = 0; off < recv_count; off += cap, ++slice) {
    const size_t m = std::min(cap, recv_count - off);
    Blocks blocks;
    for (int i = 0; i < n; ++i) {
      blocks.offset.push_back(static_cast<size_t>(i) * recv_count + off);
      blocks.count.push_back(m);
    }
    const int nchunks = chunks_for(m * es);
    std::vector<RequestPtr> step0;
    Scaler scaler{&ctx};
    // shift -1: rank r ends up owning block r.
    ring_reduce_scatter(ctx, in, blocks, -1, out + off * es, nchunks, slice_sub_base(n, slice),
                        &Scaler::on_final, &scaler, step0);
    ctx.wait_all(step0);
  }
}

void reduce_ring(Context& ctx, const char* in, char* out, size_t count, int root) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t es = ctx.esize();
  if (n == 1) {
    copy_if_distinct(out, in, count * es);
    return;
  }
  const size_t slice_elems = std::max<size_t>(1, kMaxBlockBytes / es) * static_cast<size_t>(n);
  size_t slice = 0;
  for (size_t off = 0; off < count; off += slice_elems, ++slice) {
    const size_t m = std::min(slice_elems, count - off);
    const Blocks blocks = Blocks::even(m, n, off);
    const int nchunks = chunks_for(blocks.max_count() * es);
    const uint32_t base = slice_sub_base(n, slice);
    const uint32_t gather_sub = base + static_cast<uint32_t>((n - 1) * nchunks);
    const int owned = mod(r + 1, n);
    char* result = r == root ? out + blocks.offset[owned] * es
                             : ctx.scratch().get(3, blocks.max_count() * es);
    std::vector<RequestPtr> step0;
    Scaler scaler{&ctx};
    ring_reduce_scatter(ctx, in, blocks, 0, result, nchunks, base, &Scaler::on_final, &scaler,
                        step0);
    ctx.wait_all(step0);  // in place, the root overwrites what these read
    // Gather the finished blocks at the root: rank q owns block q + 1.
    std::vector<RequestPtr> requests;
    if (r == root) {
      for (int q = 0; q < n; ++q) {
        if (q == root) continue;
        const int b = mod(q + 1, n);
        requests.push_back(
            ctx.recv(q, gather_sub, out + blocks.offset[b] * es, blocks.count[b] * es));
      }
    } else {
      requests.push_back(ctx.send(root, gather_sub, result, blocks.count[owned] * es));
    }
    ctx.wait_all(requests);
  }
}

void allgather_ring(Context& ctx, const char* in, char* out, const Blocks& blocks) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t es = ctx.esize();
  copy_if_distinct(out + blocks.offset[r] * es, in, blocks.count[r] * es);
  if (n == 1) return;
  std::vector<RequestPtr> sends;
  ring_allgather(ctx, out, blocks, r, chunks_for(blocks.max_count() * es), 0, nullptr, sends);
}

}  // namespace weft::coll
