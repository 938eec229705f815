// Element types and reduction operators on the device, for every weft dtype.
//
// f16/bf16 accumulate in f32 across all inputs of one element and round once;
// signed integer sum/prod wrap (computed in unsigned, as the CPU kernels do);
// min/max propagate NaN like PyTorch; avg is a sum divided by the number of
// contributions at the end (integers truncate toward zero).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "weft/dtype.h"

namespace weft::gpu::device {

// The unsigned integer with T's size: T's bits, moved without memory.
template <typename T>
using BitsOf = std::conditional_t<sizeof(T) == 1, uint8_t,
               std::conditional_t<sizeof(T) == 2, uint16_t,
               std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;

template <typename T> struct Accum { using type = T; };
template <> struct Accum<__half> { using type = float; };
template <> struct Accum<__nv_bfloat16> { using type = float; };

template <typename T>
__device__ __forceinline__ typename Accum<T>::type to_accum(T v) {
  if constexpr (std::is_same_v<T, __half>) return __half2float(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(v);
  else return v;
}

template <typename T>
__device__ __forceinline__ T from_accum(typename Accum<T>::type v) {
  if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else return v;
}

template <typename A>
__device__ __forceinline__ bool is_nan(A v) {
  if constexpr (std::is_floating_point_v<A>) return v != v;
  else return false;
}

template <ReduceOp Op, typename A>
__device__ __forceinline__ A combine(A a, A b) {
  if constexpr (Op == ReduceOp::sum || Op == ReduceOp::avg) {
    if constexpr (std::is_integral_v<A>) {
      using U = std::make_unsigned_t<A>;
      return static_cast<A>(static_cast<U>(a) + static_cast<U>(b));
    } else {
      return a + b;
    }
  } else if constexpr (Op == ReduceOp::prod) {
    if constexpr (std::is_integral_v<A>) {
      using U = std::make_unsigned_t<A>;
      // Promote so that u8*u8 and i8*i8 do not go through signed int overflow.
      using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
      return static_cast<A>(static_cast<U>(static_cast<W>(static_cast<U>(a)) *
                                           static_cast<W>(static_cast<U>(b))));
    } else {
      return a * b;
    }
  } else if constexpr (Op == ReduceOp::min) {
    if (is_nan(a) || is_nan(b)) return is_nan(a) ? a : b;
    return b < a ? b : a;
  } else {
    if (is_nan(a) || is_nan(b)) return is_nan(a) ? a : b;
    return b > a ? b : a;
  }
}

// The last step of avg: divide the accumulated sum by the contributions.
template <ReduceOp Op, typename A>
__device__ __forceinline__ A finish(A v, int contributions) {
  if constexpr (Op == ReduceOp::avg) return v / static_cast<A>(contributions);
  else return v;
}

}  // namespace weft::gpu::device
