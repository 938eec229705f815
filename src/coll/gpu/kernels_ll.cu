// The LL kernels: allreduce and reduce_scatter for every dtype and op,
// allgather as bytes.
#include "coll/gpu/dispatch.cuh"
#include "coll/gpu/ll_kernel.cuh"

namespace weft::gpu {
namespace {

template <typename T, CollKind K>
void launch_typed(ReduceOp op, const LLArgs& a, int blocks, cudaStream_t stream) {
  using namespace device;
  switch (op) {
    case ReduceOp::sum: ll_kernel<T, ReduceOp::sum, K><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::prod: ll_kernel<T, ReduceOp::prod, K><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::min: ll_kernel<T, ReduceOp::min, K><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::max: ll_kernel<T, ReduceOp::max, K><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::avg: ll_kernel<T, ReduceOp::avg, K><<<blocks, kThreads, 0, stream>>>(a); return;
  }
  throw_error(ErrorCode::InvalidArgument, "unknown reduce op");
}

}  // namespace

void launch_ll(CollKind kind, DataType dtype, ReduceOp op, const LLArgs& a, int blocks,
               cudaStream_t stream) {
  switch (kind) {
    case CollKind::allreduce:
      return device::with_dtype(dtype, [&](auto tag) {
        launch_typed<typename decltype(tag)::type, CollKind::allreduce>(op, a, blocks, stream);
      });
    case CollKind::reduce_scatter:
      return device::with_dtype(dtype, [&](auto tag) {
        launch_typed<typename decltype(tag)::type, CollKind::reduce_scatter>(op, a, blocks, stream);
      });
    case CollKind::allgather:
      device::ll_kernel<uint8_t, ReduceOp::sum, CollKind::allgather><<<blocks, kThreads, 0, stream>>>(a);
      return;
    default:
      throw_error(ErrorCode::Internal, "no LL kernel for this collective");
  }
}

}  // namespace weft::gpu
