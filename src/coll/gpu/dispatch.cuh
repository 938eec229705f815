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

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) with the C++ type of `dtype`.
template <typename F>
void with_dtype(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::f32: return f(TypeTag<float>{});
    case DataType::f64: return f(TypeTag<double>{});
    case DataType::f16: return f(TypeTag<__half>{});
    case DataType::bf16: return f(TypeTag<__nv_bfloat16>{});
    case DataType::i8: return f(TypeTag<int8_t>{});
    case DataType::u8: return f(TypeTag<uint8_t>{});
    case DataType::i32: return f(TypeTag<int32_t>{});
    case DataType::u32: return f(TypeTag<uint32_t>{});
    case DataType::i64: return f(TypeTag<int64_t>{});
    case DataType::u64: return f(TypeTag<uint64_t>{});
  }
  throw_error(ErrorCode::InvalidArgument, "unknown data type");
}

template <CollKind K>
void launch_reduce_kind(DataType dtype, ReduceOp op, const CollArgs& a, int blocks,
                        cudaStream_t stream) {
  with_dtype(dtype, [&](auto tag) {
    launch_with_op<typename decltype(tag)::type, K>(op, a, blocks, stream);
  });
}

}  // namespace weft::gpu::device
