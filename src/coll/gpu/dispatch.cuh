// Maps a run-time (dtype, op) to the kernel instantiation for one CollKind.
// Each reduce kind instantiates its 10 dtypes x 5 ops in its own .cu file so
// the kinds compile in parallel.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "coll/gpu/coll_kernel.cuh"
#include "weft/error.h"

namespace weft::gpu::device {

template <typename T, CollKind K>
void launch_with_op(ReduceOp op, const CollArgs& a, int blocks, cudaStream_t stream) {
  switch (op) {
    case ReduceOp::sum: coll_kernel<T, ReduceOp::sum, K><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::prod: coll_kernel<T, ReduceOp::prod, K><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::min: coll_kernel<T, ReduceOp::min, K><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::max: coll_kernel<T, ReduceOp::max, K><<<blocks, kThreads, 0, stream>>>(a); return;
    case ReduceOp::avg: coll_kernel<T, ReduceOp::avg, K><<<blocks, kThreads, 0, stream>>>(a); return;
  }
  throw_error(ErrorCode::InvalidArgument, "unknown reduce op");
}

template <CollKind K>
void launch_reduce_kind(DataType dtype, ReduceOp op, const CollArgs& a, int blocks,
                        cudaStream_t stream) {
  switch (dtype) {
    case DataType::f32: return launch_with_op<float, K>(op, a, blocks, stream);
    case DataType::f64: return launch_with_op<double, K>(op, a, blocks, stream);
    case DataType::f16: return launch_with_op<__half, K>(op, a, blocks, stream);
    case DataType::bf16: return launch_with_op<__nv_bfloat16, K>(op, a, blocks, stream);
    case DataType::i8: return launch_with_op<int8_t, K>(op, a, blocks, stream);
    case DataType::u8: return launch_with_op<uint8_t, K>(op, a, blocks, stream);
    case DataType::i32: return launch_with_op<int32_t, K>(op, a, blocks, stream);
    case DataType::u32: return launch_with_op<uint32_t, K>(op, a, blocks, stream);
    case DataType::i64: return launch_with_op<int64_t, K>(op, a, blocks, stream);
    case DataType::u64: return launch_with_op<uint64_t, K>(op, a, blocks, stream);
  }
  throw_error(ErrorCode::InvalidArgument, "unknown data type");
}

}  // namespace weft::gpu::device
