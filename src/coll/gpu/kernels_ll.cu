// The LL allreduce kernels for every dtype and op.
#include "coll/gpu/dispatch.cuh"
#include "coll/gpu/ll_kernel.cuh"

namespace weft::gpu {
namespace {

template <typename T>
void launch_typed(ReduceOp op, const LLArgs& a, int blocks, cudaStream_t stream) {
  using namespace device;
  switch (op) {
    case ReduceOp::sum: ll_allreduce_kernel<T, ReduceOp::sum><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::prod: ll_allreduce_kernel<T, ReduceOp::prod><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::min: ll_allreduce_kernel<T, ReduceOp::min><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::max: ll_allreduce_kernel<T, ReduceOp::max><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::avg: ll_allreduce_kernel<T, ReduceOp::avg><<<blocks, kThreads, 0, stream>>>(a); return;
  }
  throw_error(ErrorCode::InvalidArgument, "unknown reduce op");
}

}  // namespace

void launch_ll_allreduce(DataType dtype, ReduceOp op, const LLArgs& a, int blocks,
                         cudaStream_t stream) {
  device::with_dtype(dtype, [&](auto tag) {
    launch_typed<typename decltype(tag)::type>(op, a, blocks, stream);
  });
}

}  // namespace weft::gpu
