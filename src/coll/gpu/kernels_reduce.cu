// The reduce kernels for every dtype and op.
#include "coll/gpu/dispatch.cuh"

namespace weft::gpu {

void launch_reduce_kernel(DataType dtype, ReduceOp op, const CollArgs& args, int blocks,
                        cudaStream_t stream) {
  device::launch_reduce_kind<CollKind::reduce>(dtype, op, args, blocks, stream);
}

}  // namespace weft::gpu
