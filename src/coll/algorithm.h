// What every algorithm file includes: the context, the reduction kernels and
// the tuning constants shared by the algorithms.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "coll/context.h"
#include "core/copy.h"
#include "weft/reduce.h"

namespace weft::coll {

// Pipelining grain: large messages move in chunks of about this size so that
// reducing one chunk overlaps receiving the next.
inline constexpr size_t kChunkBytes = 256 * 1024;
// Ring algorithms work on slices whose blocks are at most this large, which
// bounds their scratch memory (3 blocks) whatever the message size.
inline constexpr size_t kMaxBlockBytes = 4 * 1024 * 1024;
// Chunks per block are capped so that sub-tags stay small.
inline constexpr int kMaxChunks = 64;

inline int chunks_for(size_t block_bytes) {
  size_t n = (block_bytes + kChunkBytes - 1) / kChunkBytes;
  return static_cast<int>(std::clamp<size_t>(n, 1, kMaxChunks));
}

inline int mod(int a, int n) { return ((a % n) + n) % n; }

// copy_bytes (core/copy.h) accepts null pointers for zero bytes (count-0
// operations may pass null buffers).
inline void copy_if_distinct(void* dst, const void* src, size_t bytes) {
  if (dst == src || bytes == 0) return;
  const auto d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
  if (d + bytes <= s || s + bytes <= d)
    copy_bytes(dst, src, bytes);
  else
    std::memmove(dst, src, bytes);
}

// ring.cc ------------------------------------------------------------------
// Reduce-scatter around the ring (rank r sends to r+1) over `blocks` of `in`.
// Afterwards rank r holds the reduction of block owned = (r + 1 + shift) mod n
// at `result`. Partial sums travel through scratch slots 0-2. `on_final(c, p, m)`
// runs as chunk c (m elements at p) of the owned block becomes final.
// `step0_sends` receives the first step's sends (they read `in`) as soon as
// they are posted; the caller waits for them before `in` may be overwritten.
using ChunkCallback = void (*)(void* self, int c, char* data, size_t elems);
void ring_reduce_scatter(Context& ctx, const char* in, const Blocks& blocks, int shift,
                         char* result, int nchunks, uint32_t sub_base, ChunkCallback on_final,
                         void* self, std::vector<transport::RequestPtr>& step0_sends);
// Allgather around the ring: rank r starts with block `owned` of `buf` and ends
// with every block. When `step0_posted`, the caller already posted the step-0
// receives and sends (in `recvs0` and `sends`).
void ring_allgather(Context& ctx, char* buf, const Blocks& blocks, int owned, int nchunks,
                    uint32_t sub_base, std::vector<transport::RequestPtr>* recvs0,
                    std::vector<transport::RequestPtr>& sends);

void allreduce_ring(Context& ctx, const char* in, char* out, size_t count);
void reduce_scatter_ring(Context& ctx, const char* in, char* out, size_t recv_count);
void reduce_ring(Context& ctx, const char* in, char* out, size_t count, int root);
void allgather_ring(Context& ctx, const char* in, char* out, const Blocks& blocks);

// recursive_doubling.cc --------------------------------------------------------
void allreduce_recursive_doubling(Context& ctx, const char* in, char* out, size_t count);

// tree.cc (binomial trees) ---------------------------------------------------------
void broadcast_tree(Context& ctx, char* buf, size_t count, int root);
void reduce_tree(Context& ctx, const char* in, char* out, size_t count, int root);

// chain.cc ------------------------------------------------------------------------
void broadcast_chain(Context& ctx, char* buf, size_t count, int root);

// direct.cc (every rank talks to its peers directly) ---------------------------------
void gather_direct(Context& ctx, const char* in, char* out, size_t count, int root);
void scatter_direct(Context& ctx, const char* in, char* out, size_t count, int root);
void alltoallv_pairwise(Context& ctx, const char* in, const size_t* send_counts,
                        const size_t* send_displs, char* out, const size_t* recv_counts,
                        const size_t* recv_displs);
void barrier_dissemination(Context& ctx);

// shm/intra.cc (the ranks of one host through the shared segment; ranks and
// roots are local ranks of ctx.shm()) ------------------------------------------------
// Up to this size allreduce is one-shot (each rank reduces everything).
inline constexpr size_t kShmOneShotBytes = 32 * 1024;
inline constexpr size_t kShmOneShotBytes2 = 64 * 1024;  // with two ranks
// root < 0: every rank receives. op may differ from the descriptor's (the
// hierarchical algorithm sums on each host); avg divides by average_over
// (0: no division).
// Operations of at least g.cma_min_bytes() (count x element size) read the
// peers' buffers directly when the group has cross-memory attach.
void allreduce_shm(Context& ctx, const char* in, char* out, size_t count, int root, ReduceOp op,
                   int average_over);
void reduce_scatter_shm(Context& ctx, const char* in, char* out, size_t recv_count);
void allgather_shm(Context& ctx, const char* in, char* out, size_t count);
void broadcast_shm(Context& ctx, char* buf, size_t count, int root);
void barrier_shm(Context& ctx);

// shm/hierarchical.cc ----------------------------------------------------------------
// `leaders`: the lowest rank of each host, sorted (the same list on every rank).
// Among host leaders, up to this size the latency-optimal algorithms run.
inline constexpr size_t kHierarchicalRingBytes = 256 * 1024;
// The scratch slot of a host root's partial sum (no algorithm it calls uses it).
inline constexpr int kHierarchicalScratch = 4;
// The scratch slot of the single-copy (cross-memory attach) shm collectives.
inline constexpr int kShmCmaScratch = 5;
void allreduce_hierarchical(Context& ctx, const std::vector<int>& leaders, const char* in,
                            char* out, size_t count);
struct Topology;
void broadcast_hierarchical(Context& ctx, const Topology& topo, char* buf, size_t count, int root);
void reduce_hierarchical(Context& ctx, const Topology& topo, const char* in, char* out,
                         size_t count, int root);

}  // namespace weft::coll
