// Maps a run-time (dtype, op) to the kernel instantiation for one CollKind.
// Each reduce kind instantiates its 10 dtypes x 5 ops in its own .cu file so
// the kinds compile in parallel.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "coll/gpu/coll_kernel.cuh"
#include "weft/error.h"

namespace weft::gpu::device {

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

template <ReduceOp O>
struct OpTag {
  static constexpr ReduceOp value = O;
};

// Calls f(TypeTag<T>{}, OpTag<Op>{}) with the C++ type of `dtype` and `op`.
template <typename F>
void with_dtype_and_op(DataType dtype, ReduceOp op, F&& f) {
  with_dtype(dtype, [&](auto t) {
    switch (op) {
      case ReduceOp::sum: return f(t, OpTag<ReduceOp::sum>{});
      case ReduceOp::prod: return f(t, OpTag<ReduceOp::prod>{});
      case ReduceOp::min: return f(t, OpTag<ReduceOp::min>{});
      case ReduceOp::max: return f(t, OpTag<ReduceOp::max>{});
      case ReduceOp::avg: return f(t, OpTag<ReduceOp::avg>{});
    }
    throw_error(ErrorCode::InvalidArgument, "unknown reduce op");
  });
}

template <CollKind K>
void launch_reduce_kind(DataType dtype, ReduceOp op, const CollArgs& a, int blocks,
                        cudaStream_t stream) {
  with_dtype_and_op(dtype, op, [&](auto t, auto o) {
    coll_kernel<typename decltype(t)::type, decltype(o)::value, K><<<blocks, kThreads, 0, stream>>>(a);
  });
}

}  // namespace weft::gpu::device
