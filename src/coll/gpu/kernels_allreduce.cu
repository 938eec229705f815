// The allreduce kernels for every dtype and op.
#include "coll/gpu/dispatch.cuh"

namespace weft::gpu {

void launch_allreduce_kernel(DataType dtype, ReduceOp op, const CollArgs& args, int blocks,
                        cudaStream_t stream) {
  device::launch_reduce_kind<CollKind::allreduce>(dtype, op, args, blocks, stream);
}

}  // namespace weft::gpu
