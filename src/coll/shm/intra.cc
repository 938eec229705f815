// Collectives among the ranks of one host through the shared segment
// (shm/group.h). Every rank copies its input into its own slot once; then
// the ranks read each other's slots directly, so each byte crosses memory a
// fixed number of times whatever the rank count, instead of hopping around
// a ring through the kernel's socket buffers.
//
// Large messages move in rounds of at most one slot half per rank, which
// bounds the segment; consecutive rounds alternate halves, so a rank that is
// ahead fills the next round while the others still read the last one.
//
// Operations of at most Group::kBoxPayload (304) bytes per rank skip the
// rounds: each rank writes them into a box of its own (box.cc).
//
// Where the host's ranks may read each other's memory (cross-memory attach),
// operations above a threshold skip the segment: single_copy.cc.
#include <algorithm>

#include "coll/algorithm.h"
#include "coll/shm/box.h"
#include "coll/shm/reduce_inputs.h"
#include "coll/shm/round.h"
#include "coll/shm/single_copy.h"

namespace weft::coll {
namespace {

// Rank r's share of m elements: [begin(r), begin(r + 1)).
size_t share(size_t m, int r, int n) { return chunk_begin(m, r, n); }

// Above this message size the output is written with non-temporal stores
// (it exceeds the caches anyway; see core/copy.h).
constexpr size_t kStreamBytes = 8u << 20;

void copy_out(bool stream, void* dst, const void* src, size_t bytes) {
  if (!bytes) return;
  if (stream)
    stream_copy(dst, src, bytes);
  else
    copy_bytes(dst, src, bytes);
}

}  // namespace

void allreduce_shm(Context& ctx, const char* in, char* out, size_t count, int root, ReduceOp op,
                   int average_over) {
  shm::Group& g = *ctx.shm();
  const int n = g.local_size(), r = g.local_rank();
  const size_t es = ctx.esize(), bytes = count * es;
  const bool receives = root < 0 || root == r;
  if (fits_box(bytes)) return allreduce_box(ctx, in, out, count, root, op, average_over);
  Inputs inputs(n);

  // With two ranks one-shot moves as many bytes between the cores as
  // two-shot and saves a synchronisation: it wins up to 64 KiB, two-shot
  // from 128 KiB on (2-core VM, quiet: 2.9 vs 2.3 GB/s at 512 KiB).
  const size_t one_shot = n == 2 ? kShmOneShotBytes2 : kShmOneShotBytes;
  if (bytes <= one_shot && bytes <= g.half_bytes()) {
    // One-shot: everyone reduces the whole message from every slot. One
    // synchronisation instead of two; the reads (n x bytes) are cheap at
    // this size.
    Round round(ctx);
    copy_bytes(round.slot(r), in, bytes);
    round.arrive();
    if (receives && count) {
      // Every input from the segment: `out` may be `in`, and reduce_many
      // lets the output alias only one of its first 8 inputs.
      for (int q = 0; q < n; ++q) inputs[q] = round.slot(q);
      reduce_many(out, inputs.data(), n, count, ctx.dtype(), op);
      scale_if_average(out, count, ctx.dtype(), op, average_over);
    }
    round.finish();
    return;
  }
  // Each rank reads its 1/n share from every peer.
  if (use_single_copy(g, count / static_cast<size_t>(n) * es))
    return allreduce_single_copy(ctx, in, out, count, root, op, average_over);

  // Two-shot: rank r reduces share r of the chunk from every slot and
  // leaves the result in its own slot; then every rank gathers all shares.
  const size_t per_round = std::max<size_t>(1, g.half_bytes() / es);
  size_t done = 0;
  do {
    const size_t m = std::min(per_round, count - done);
    const char* src = in + done * es;
    const size_t lo = share(m, r, n), hi = share(m, r + 1, n);
    Round round(ctx);
    char* mine = round.slot(r);
    // Peers need every share but mine; mine I read from `in` directly.
    copy_bytes(mine, src, lo * es);
    copy_bytes(mine + hi * es, src + hi * es, (m - hi) * es);
    round.arrive();
    if (hi > lo) {
      for (int q = 0; q < n; ++q) inputs[q] = q == r ? src + lo * es : round.slot(q) + lo * es;
      reduce_many(mine + lo * es, inputs.data(), n, hi - lo, ctx.dtype(), op);
      scale_if_average(mine + lo * es, hi - lo, ctx.dtype(), op, average_over);
    }
    round.sync();
    if (receives) {
      for (int q = 0; q < n; ++q) {
        const size_t qlo = share(m, q, n), qhi = share(m, q + 1, n);
        copy_out(bytes >= kStreamBytes, out + (done + qlo) * es, round.slot(q) + qlo * es,
                 (qhi - qlo) * es);
      }
    }
    round.finish();
    done += m;
  } while (done < count);
}

void reduce_scatter_shm(Context& ctx, const char* in, char* out, size_t recv_count) {
  shm::Group& g = *ctx.shm();
  const int n = g.local_size(), r = g.local_rank();
  const size_t es = ctx.esize();
  if (use_single_copy(g, recv_count * es))  // one block from every peer
    return reduce_scatter_single_copy(ctx, in, out, recv_count);
  Inputs inputs(n);
  // A round carries m elements of each of the n blocks.
  const size_t per_round = std::max<size_t>(1, g.half_bytes() / (es * static_cast<size_t>(n)));
  size_t done = 0;
  do {
    const size_t m = std::min(per_round, recv_count - done);
    Round round(ctx);
    char* mine = round.slot(r);
    for (int q = 0; q < n; ++q)
      if (q != r)
        copy_bytes(mine + static_cast<size_t>(q) * m * es,
                    in + (static_cast<size_t>(q) * recv_count + done) * es, m * es);
    round.arrive();
    if (m) {
      const char* own = in + (static_cast<size_t>(r) * recv_count + done) * es;
      // In place, out + done is exactly input r; reduce_many allows that
      // only among its first 8 inputs, so past those, own block goes through
      // the (otherwise unused) own part of the slot.
      if (own == out + done * es && r >= 8) {
        copy_bytes(mine + static_cast<size_t>(r) * m * es, own, m * es);
        own = mine + static_cast<size_t>(r) * m * es;
      }
      for (int q = 0; q < n; ++q)
        inputs[q] = q == r ? own : round.slot(q) + static_cast<size_t>(r) * m * es;
      reduce_many(out + done * es, inputs.data(), n, m, ctx.dtype(), ctx.op());
      scale_if_average(out + done * es, m, ctx.dtype(), ctx.op(), n);
    }
    round.finish();
    done += m;
  } while (done < recv_count);
}

void allgather_shm(Context& ctx, const char* in, char* out, size_t count) {
  shm::Group& g = *ctx.shm();
  const int n = g.local_size(), r = g.local_rank();
  const size_t es = ctx.esize();
  if (fits_box(count * es)) return allgather_box(ctx, in, out, count);
  if (use_single_copy(g, count * es, /*copy_only=*/true))  // one block from every peer
    return allgather_single_copy(ctx, in, out, count);
  const size_t per_round = std::max<size_t>(1, g.half_bytes() / es);
  size_t done = 0;
  do {
    const size_t m = std::min(per_round, count - done);
    Round round(ctx);
    copy_bytes(round.slot(r), in + done * es, m * es);
    round.arrive();
    for (int q = 0; q < n; ++q) {
      char* dst = out + (static_cast<size_t>(q) * count + done) * es;
      if (q == r)
        copy_if_distinct(dst, in + done * es, m * es);  // in place: already there
      else
        copy_bytes(dst, round.slot(q), m * es);
    }
    round.finish();
    done += m;
  } while (done < count);
}

void broadcast_shm(Context& ctx, char* buf, size_t count, int root) {
  shm::Group& g = *ctx.shm();
  const int r = g.local_rank();
  const size_t es = ctx.esize();
  if (fits_box(count * es)) return broadcast_box(ctx, buf, count, root);
  // A non-root reads all but the root's own part (single_copy.cc).
  if (use_single_copy(g, (count - count / static_cast<size_t>(g.local_size())) * es,
                      /*copy_only=*/true))
    return broadcast_single_copy(ctx, buf, count, root);
  const size_t per_round = std::max<size_t>(1, g.half_bytes() / es);
  size_t done = 0;
  do {
    const size_t m = std::min(per_round, count - done);
    Round round(ctx);
    if (r == root) copy_bytes(round.slot(root), buf + done * es, m * es);
    round.arrive();
    if (r != root) copy_bytes(buf + done * es, round.slot(root), m * es);
    round.finish();
    done += m;
  } while (done < count);
}

// Everyone published its box (and agrees this is a barrier), nothing to read.
void barrier_shm(Context& ctx) { barrier_box(ctx); }

}  // namespace weft::coll
