// The LL kernels: allreduce and reduce_scatter for every dtype and op,
// allgather as bytes.
#include "coll/gpu/dispatch.cuh"
#include "coll/gpu/ll_kernel.cuh"

namespace weft::gpu {
namespace {

// One thread per 16-byte line (whole warps), at most `block_threads` per
// block and `max_blocks` blocks; every rank derives the same grid from the
// same size (ll_kernel.cuh).
struct LLGrid {
  dim3 blocks, threads;
};

LLGrid ll_grid(size_t payload_bytes, int max_blocks, int block_threads) {
  const size_t lines = (payload_bytes + 7) / 8;
  auto warps = [](size_t t) { return (t + 31) / 32 * 32; };
  // Blocks grow up to `block_threads`; past max_blocks x block_threads lines
  // they grow to kThreads instead, since a thread with a second line costs
  // far more than a larger block (bench/results/gpu.md, the grid sweep).
  const size_t threads =
      std::min<size_t>(kThreads, std::max(std::min<size_t>(size_t(block_threads), warps(lines)),
                                          warps((lines + size_t(max_blocks) - 1) / size_t(max_blocks))));
  const size_t blocks = std::min<size_t>(size_t(max_blocks), (lines + threads - 1) / threads);
  return {dim3(static_cast<unsigned>(blocks)), dim3(static_cast<unsigned>(threads))};
}

template <typename T, ReduceOp Op, CollKind K>
cudaError_t launch_one(const LLArgs& a, int max_blocks, bool dependent, cudaStream_t stream) {
  const LLGrid g = ll_grid(a.bytes, max_blocks, a.block_threads);
  const size_t lines = (a.bytes + 7) / 8;
  if (lines <= size_t(g.blocks.x) * g.threads.x)  // one line per thread
    return cuda::launch_kernel(device::ll_kernel<T, Op, K, 1>, g.blocks, g.threads, stream, dependent, a);
  return cuda::launch_kernel(device::ll_kernel<T, Op, K, device::kLLBatch>, g.blocks, g.threads, stream,
                             dependent, a);
}

template <CollKind K>
cudaError_t launch_reducing(DataType dtype, ReduceOp op, const LLArgs& a, int max_blocks, bool dependent,
                            cudaStream_t stream) {
  cudaError_t err = cudaSuccess;
  device::with_dtype_and_op(dtype, op, [&](auto t, auto o) {
    err = launch_one<typename decltype(t)::type, decltype(o)::value, K>(a, max_blocks, dependent, stream);
  });
  return err;
}

}  // namespace

cudaError_t launch_ll(CollKind kind, DataType dtype, ReduceOp op, const LLArgs& a, int max_blocks,
                      bool dependent, cudaStream_t stream) {
  switch (kind) {
    case CollKind::allreduce:
      return launch_reducing<CollKind::allreduce>(dtype, op, a, max_blocks, dependent, stream);
    case CollKind::reduce_scatter:
      return launch_reducing<CollKind::reduce_scatter>(dtype, op, a, max_blocks, dependent, stream);
    case CollKind::allgather:
      return launch_one<uint8_t, ReduceOp::sum, CollKind::allgather>(a, max_blocks, dependent, stream);
    default:
      throw_error(ErrorCode::Internal, "no LL kernel for this collective");
  }
}

}  // namespace weft::gpu
