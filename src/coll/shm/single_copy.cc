// Single-copy collectives among the ranks of one host: instead of copying
// its input into the shared segment for the others to copy out again, each
// rank publishes the addresses of its own buffers in the segment and the
// others read them straight out of its memory with process_vm_readv
// (cross-memory attach, shm/cma.h). Every byte crosses memory once instead
// of twice, and nothing is bounded by the slot size, so there is one round
// per operation instead of one per slot half.
//
// The round is the same as in intra.cc: descriptors are compared at
// arrive(), before anyone reads anything, so ranks that disagree get
// Mismatch. It ends with finish_all(): nobody returns, and so nobody lets
// its caller reuse a buffer, while a peer may still be reading it.
#include "coll/shm/single_copy.h"

#include <algorithm>

#include "coll/algorithm.h"
#include "coll/shm/reduce_inputs.h"
#include "coll/shm/round.h"
#include "weft/log.h"

namespace weft::coll {
namespace {

// Peers' pieces of the reduce-scatter phase are read into scratch and
// reduced from there while they are still in this core's cache: about this
// many bytes for all peers together (L2 is 512 KiB per core on the VMs).
constexpr size_t kPiecesBytes = 256 * 1024;
constexpr size_t kMinPieceBytes = 16 * 1024;

// From this operation size on, what is read into the user's output goes
// through a cache-resident bounce buffer and on with non-temporal stores:
// the kernel's copy would first read every destination line it writes
// (measured on the 2-core VM, 16-64 MiB from another process: 3.3-3.6 GB/s
// straight, 4.4-4.7 GB/s through 256 KiB and streaming stores; below 4 MiB
// straight wins).
constexpr size_t kStreamBytes = 8u << 20;
constexpr size_t kBounceBytes = 256 * 1024;

size_t share(size_t m, int r, int n) { return chunk_begin(m, r, n); }

uint64_t at(uint64_t address, size_t offset) { return address + offset; }

// Elements per piece for `peers` peers.
size_t piece_elems(int peers, size_t es) {
  const size_t bytes = std::max(kMinPieceBytes, kPiecesBytes / static_cast<size_t>(std::max(peers, 1)));
  return std::max<size_t>(1, bytes / es);
}

// Bytes between the starts of two pieces in scratch: a piece and the slack
// to place it at its source's offset modulo kCopyAlign (core/copy.h: the
// kernel's copy runs ~4x slower into a destination 1-31 bytes off it).
size_t piece_stride(int peers, size_t es) {
  return (piece_elems(peers, es) * es + 2 * kCopyAlign - 1) / kCopyAlign * kCopyAlign;
}

bool kind_copies(OpKind kind) { return kind == OpKind::allgather || kind == OpKind::broadcast; }

void note(Context& ctx, size_t bytes) {
  shm::Group& g = *ctx.shm();
  if (g.first_time(static_cast<int>(ctx.desc().kind)))
    WEFT_INFO("coll", to_string(ctx.desc().kind), ": single copy through cross-memory attach (",
              bytes, " bytes; reads of >= ",
              kind_copies(ctx.desc().kind) ? g.cma_copy_min_bytes() : g.cma_min_bytes(),
              " bytes per peer)");
}

// out[k] = own[k] op peers' [remote_offset + k] for k < count, piece by piece:
// own is read in place; each peer's piece is copied into scratch, then all
// are reduced in one pass. `remote_of(q)` is where q's block starts.
template <typename RemoteOf>
void reduce_from_peers(Round& round, Context& ctx, int n, int r, const char* own, char* out,
                       size_t count, ReduceOp op, char* pieces, RemoteOf remote_of) {
  const size_t es = ctx.esize(), per = piece_elems(n - 1, es), stride = piece_stride(n - 1, es);
  Inputs inputs(n);
  for (size_t done = 0; done < count; done += per) {
    const size_t m = std::min(per, count - done);
    // Own input first: reduce_many lets the output alias one of its first 8
    // inputs, and in place `out` is `own`.
    inputs[0] = own + done * es;
    for (int i = 1; i < n; ++i) {
      const int q = (r + i) % n;
      const uint64_t from = at(remote_of(q), done * es);
      char* piece = same_offset_as(pieces + static_cast<size_t>(i - 1) * stride, from);
      round.read(q, piece, from, m * es);
      inputs[i] = piece;
    }
    reduce_many(out + done * es, inputs.data(), n, m, ctx.dtype(), op);
  }
}

// Where read_out may stage what it reads: `bytes` usable from wherever
// same_offset_as() places it in `data` (which has kCopyAlign bytes more).
struct Bounce {
  char* data;
  size_t bytes;
};

// Reads `bytes` at `remote` in member q's memory into `dst`: straight, or
// through `bounce`, placed at the remote's offset, when `stream` (large:
// on with non-temporal stores) or when `dst` is not at that offset modulo
// kCopyAlign (the kernel's copy would run ~4x slower; copy_bytes does not).
void read_out(Round& round, int q, char* dst, uint64_t remote, size_t bytes, Bounce bounce,
              bool stream) {
  if (!stream && !mutually_misaligned(dst, reinterpret_cast<const void*>(remote)))
    return round.read(q, dst, remote, bytes);
  for (size_t done = 0; done < bytes; done += bounce.bytes) {
    const size_t m = std::min(bounce.bytes, bytes - done);
    char* staged = same_offset_as(bounce.data, remote + done);
    round.read(q, staged, remote + done, m);
    if (stream)
      stream_copy(dst + done, staged, m);
    else
      copy_bytes(dst + done, staged, m);
  }
}

}  // namespace

bool use_single_copy(const shm::Group& g, size_t per_peer, bool copy_only) {
  return g.cma() && per_peer > 0 &&
         per_peer >= (copy_only ? g.cma_copy_min_bytes() : g.cma_min_bytes());
}

void allreduce_single_copy(Context& ctx, const char* in, char* out, size_t count, int root,
                           ReduceOp op, int average_over) {
  shm::Group& g = *ctx.shm();
  const int n = g.local_size(), r = g.local_rank();
  const size_t es = ctx.esize();
  const bool receives = root < 0 || root == r;
  const size_t lo = share(count, r, n), hi = share(count, r + 1, n);
  note(ctx, count * es);
  // My reduced share goes into my output, or, when I receive nothing (a
  // reduce's non-root may pass no output at all), into scratch, from where I
  // write it into the root's output. Published as the address where share 0
  // would start.
  const size_t pieces_bytes = static_cast<size_t>(n - 1) * piece_stride(n - 1, es);
  char* pieces = ctx.scratch().get(kShmCmaScratch, pieces_bytes + (receives ? 0 : (hi - lo) * es));
  char* result = receives ? out + lo * es : pieces + pieces_bytes;
  Round round(ctx);
  round.publish(in, reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(result) - lo * es));
  round.arrive();
  // Reduce-scatter: my share, from every peer's input.
  reduce_from_peers(round, ctx, n, r, in + lo * es, result, hi - lo, op, pieces,
                    [&](int q) { return at(round.remote(q, 0), lo * es); });
  scale_if_average(result, hi - lo, ctx.dtype(), op, average_over);
  if (root >= 0) {
    // Reduce: each rank writes its share straight into the root's output,
    // so the root does not gather alone. No sync needed first: in place,
    // that part of the root's buffer is input only this rank reads, and it
    // has finished reading it.
    if (r != root) round.write(root, at(round.remote(root, 1), lo * es), result, (hi - lo) * es);
    round.finish_all();
    return;
  }
  // Every share is reduced, and nobody reads an input any more (in place,
  // the gather below overwrites them).
  round.sync();
  // The pieces are free again: the gather's bounce buffer.
  const Bounce bounce{pieces, pieces_bytes - kCopyAlign};
  for (int i = 1; i < n; ++i) {
    const int q = (r + i) % n;
    const size_t qlo = share(count, q, n), qhi = share(count, q + 1, n);
    read_out(round, q, out + qlo * es, at(round.remote(q, 1), qlo * es), (qhi - qlo) * es, bounce,
             count * es >= kStreamBytes);
  }
  round.finish_all();
}

void reduce_scatter_single_copy(Context& ctx, const char* in, char* out, size_t recv_count) {
  shm::Group& g = *ctx.shm();
  const int n = g.local_size(), r = g.local_rank();
  const size_t es = ctx.esize();
  note(ctx, recv_count * es);
  char* pieces = ctx.scratch().get(kShmCmaScratch, static_cast<size_t>(n - 1) * piece_stride(n - 1, es));
  const size_t mine = static_cast<size_t>(r) * recv_count * es;  // my block's offset
  Round round(ctx);
  round.publish(in);
  round.arrive();
  // In place, `out` is my block of `in`, which no peer reads.
  reduce_from_peers(round, ctx, n, r, in + mine, out, recv_count, ctx.op(), pieces,
                    [&](int q) { return at(round.remote(q, 0), mine); });
  scale_if_average(out, recv_count, ctx.dtype(), ctx.op(), n);
  round.finish_all();
}

void allgather_single_copy(Context& ctx, const char* in, char* out, size_t count) {
  shm::Group& g = *ctx.shm();
  const int n = g.local_size(), r = g.local_rank();
  const size_t bytes = count * ctx.esize();
  note(ctx, bytes);
  const bool stream = bytes * static_cast<size_t>(n) >= kStreamBytes;
  const Bounce bounce{ctx.scratch().get(kShmCmaScratch, kBounceBytes + kCopyAlign), kBounceBytes};
  Round round(ctx);
  round.publish(in);
  round.arrive();
  // Everyone starts with a different peer, so no one is read by all at once.
  for (int i = 1; i < n; ++i) {
    const int q = (r + i) % n;
    read_out(round, q, out + static_cast<size_t>(q) * bytes, round.remote(q, 0), bytes, bounce,
             stream);
  }
  copy_if_distinct(out + static_cast<size_t>(r) * bytes, in, bytes);
  round.finish_all();
}

// The root does not sit idle: of the buffer's n parts it writes its own
// (part `root`) into every other rank (process_vm_writev), while each of
// them reads the other n-1 parts from it. Every rank copies (n-1)/n of the
// buffer, with two ranks half each, in parallel.
void broadcast_single_copy(Context& ctx, char* buf, size_t count, int root) {
  shm::Group& g = *ctx.shm();
  const int n = g.local_size(), r = g.local_rank();
  const size_t es = ctx.esize(), bytes = count * es;
  note(ctx, bytes);
  const bool stream = bytes >= kStreamBytes;
  const Bounce bounce{r != root ? ctx.scratch().get(kShmCmaScratch, kBounceBytes + kCopyAlign) : nullptr,
                      kBounceBytes};
  const size_t lo = share(count, root, n) * es, hi = share(count, root + 1, n) * es;
  Round round(ctx);
  round.publish(buf);
  round.arrive();
  if (r == root) {
    for (int i = 1; i < n; ++i) {
      const int q = (r + i) % n;
      round.write(q, at(round.remote(q, 0), lo), buf + lo, hi - lo);
    }
  } else {
    const uint64_t from = round.remote(root, 0);
    read_out(round, root, buf, from, lo, bounce, stream);
    read_out(round, root, buf + hi, at(from, hi), bytes - hi, bounce, stream);
  }
  round.finish_all();
}

}  // namespace weft::coll
