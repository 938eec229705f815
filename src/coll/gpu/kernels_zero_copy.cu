// The zero-copy kernels: allreduce and reduce_scatter for every dtype and
// op, allgather as bytes.
#include "coll/gpu/dispatch.cuh"
#include "coll/gpu/zero_copy_kernel.cuh"

namespace weft::gpu {
namespace {

template <CollKind K>
void launch_reducing(DataType dtype, ReduceOp op, const ZeroCopyArgs& a, int blocks,
                     cudaStream_t stream) {
  device::with_dtype_and_op(dtype, op, [&](auto t, auto o) {
    device::zero_copy_kernel<typename decltype(t)::type, decltype(o)::value, K>
        <<<blocks, kThreads, 0, stream>>>(a);
  });
}

}  // namespace

void launch_zero_copy(CollKind kind, DataType dtype, ReduceOp op, const ZeroCopyArgs& a,
                      int blocks, cudaStream_t stream) {
  switch (kind) {
    case CollKind::allreduce:
      return launch_reducing<CollKind::allreduce>(dtype, op, a, blocks, stream);
    case CollKind::reduce_scatter:
      return launch_reducing<CollKind::reduce_scatter>(dtype, op, a, blocks, stream);
    case CollKind::allgather:
      device::zero_copy_kernel<uint8_t, ReduceOp::sum, CollKind::allgather>
          <<<blocks, kThreads, 0, stream>>>(a);
      return;
    default:
      throw_error(ErrorCode::Internal, "no zero-copy kernel for this collective");
  }
}

}  // namespace weft::gpu
