// Launch descriptions for the GPU collective kernels (host <-> device).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "coll/gpu/layout.h"
#include "weft/dtype.h"

namespace weft::gpu {

// The collectives that share one staged-step kernel skeleton.
enum class CollKind : int { allreduce, reduce, reduce_scatter, broadcast, allgather, alltoall };

struct CollArgs {
  PeerView view;
  const void* in;
  void* out;
  // Elements: allreduce/reduce/broadcast: the whole buffer; allgather,
  // reduce_scatter, alltoall: one rank's block. Copy kinds count bytes.
  size_t count;
  size_t chunk;  // elements per slot per step (a multiple of 16 bytes x blocks)
  int root;
  int vec;       // 1 when every pointer and block offset is 16-byte aligned
  int two_shot;  // allreduce: reduce-scatter + allgather pushed through scratch (large sizes)
  int push;      // write shares into the peers' scratch, consume locally (small sizes)
};

// Zero-copy allreduce, reduce_scatter, allgather: every rank's input and
// output are registered, so the kernel reads and writes them directly on the
// peers (see zero_copy_kernel.cuh).
struct ZeroCopyArgs {
  PeerView view;
  const void* in;
  void* out;
  uintptr_t in_seen_by[kMaxRanks];   // where each peer sees `in` (own entry unused)
  uintptr_t out_seen_by[kMaxRanks];  // where each peer sees `out`
  size_t count;  // elements (allreduce: the buffer, reduce_scatter: one rank's block);
                 // allgather: bytes of one rank's block
  int vec;       // every pointer and per-rank block 16-byte aligned
};

// LL allreduce / allgather / reduce_scatter of at most ll_max_payload(n)
// bytes per rank (see ll_kernel.cuh).
struct LLArgs {
  PeerView view;
  const void* in;
  void* out;
  size_t bytes;  // allreduce: the buffer; allgather, reduce_scatter: one rank's block
  size_t slot_bytes;  // ll_slot_bytes(nranks)
  int aligned;   // in, out and every block 8-byte aligned
  int block_threads;  // threads per block at most (a multiple of 32, <= kThreads)
};

struct P2PArgs {
  PeerView view;
  void* buf;
  size_t bytes;
  int peer;
  int vec;
};

// Enqueue on `stream` with `blocks` blocks (every launch of a communicator
// uses the same count: epochs are per block). reduce kinds use dtype and op;
// copy kinds ignore them.
void launch_collective(CollKind kind, DataType dtype, ReduceOp op, const CollArgs& args,
                       int blocks, cudaStream_t stream);
void launch_zero_copy(CollKind kind, DataType dtype, ReduceOp op, const ZeroCopyArgs& args,
                      int blocks, cudaStream_t stream);
// LL sizes its own grid (at most `max_blocks`); `dependent` launches it as a
// programmatic dependent of the stream's previous kernel (Hopper+).
cudaError_t launch_ll(CollKind kind, DataType dtype, ReduceOp op, const LLArgs& args, int max_blocks,
                      bool dependent, cudaStream_t stream);
// Loads the send/recv kernels now (see kernels_p2p.cu for why).
void preload_p2p_kernels();
void launch_send(const P2PArgs& args, int blocks, cudaStream_t stream);
void launch_recv(const P2PArgs& args, int blocks, cudaStream_t stream);

}  // namespace weft::gpu
