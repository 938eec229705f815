#include "coll/gpu/kernel_args.h"
#include "weft/error.h"

namespace weft::gpu {

void launch_allreduce_kernel(DataType, ReduceOp, const CollArgs&, int, cudaStream_t);
void launch_reduce_kernel(DataType, ReduceOp, const CollArgs&, int, cudaStream_t);
void launch_reduce_scatter_kernel(DataType, ReduceOp, const CollArgs&, int, cudaStream_t);
void launch_copy_kernel(CollKind, const CollArgs&, int, cudaStream_t);

void launch_collective(CollKind kind, DataType dtype, ReduceOp op, const CollArgs& args,
                       int blocks, cudaStream_t stream) {
  switch (kind) {
    case CollKind::allreduce: return launch_allreduce_kernel(dtype, op, args, blocks, stream);
    case CollKind::reduce: return launch_reduce_kernel(dtype, op, args, blocks, stream);
    case CollKind::reduce_scatter:
      return launch_reduce_scatter_kernel(dtype, op, args, blocks, stream);
    default: return launch_copy_kernel(kind, args, blocks, stream);
  }
}

}  // namespace weft::gpu
