// Kernels that move bytes without reducing: broadcast, allgather, alltoall.
// They run on bytes (count and chunk are in bytes), so one instantiation each.
#include "coll/gpu/coll_kernel.cuh"
#include "weft/error.h"

namespace weft::gpu {

void launch_copy_kernel(CollKind kind, const CollArgs& args, int blocks, cudaStream_t stream) {
  using device::coll_kernel;
  switch (kind) {
    case CollKind::broadcast:
      coll_kernel<uint8_t, ReduceOp::sum, CollKind::broadcast><<<blocks, kThreads, 0, stream>>>(args);
      return;
    case CollKind::allgather:
      coll_kernel<uint8_t, ReduceOp::sum, CollKind::allgather><<<blocks, kThreads, 0, stream>>>(args);
      return;
    case CollKind::alltoall:
      coll_kernel<uint8_t, ReduceOp::sum, CollKind::alltoall><<<blocks, kThreads, 0, stream>>>(args);
      return;
    default:
      break;
  }
  throw_error(ErrorCode::Internal, "launch_copy_kernel: not a copy collective");
}

}  // namespace weft::gpu
