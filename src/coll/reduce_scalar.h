// TEMPORARY scalar reduction kernels with the exact signatures of
// include/weft/reduce.h (the vectorized kernels written on another branch).
// Only src/coll/algorithm.h includes this file; once weft/reduce.h is on main,
// that include switches to "weft/reduce.h" and this file is deleted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "weft/dtype.h"
#include "weft/error.h"

namespace weft {
namespace scalar_detail {

inline float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t float_to_half(float f) {  // round to nearest even
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (absx < 0x38800000u) {  // subnormal or zero in half
    float a;
    std::memcpy(&a, &absx, 4);
    float scaled = a * 16777216.0f;  // 2^24: half subnormal unit
    uint32_t m = static_cast<uint32_t>(scaled);
    float rem = scaled - static_cast<float>(m);
    if (rem > 0.5f || (rem == 0.5f && (m & 1))) ++m;
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t mant = absx & 0x7fffffu, exp = (absx >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float bf16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fffu + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

template <typename T>
T apply(T a, T b, ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: case ReduceOp::avg:
      if constexpr (std::is_integral_v<T>) {
        using U = std::make_unsigned_t<T>;
        return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
      } else {
        return a + b;
      }
    case ReduceOp::prod:
      if constexpr (std::is_integral_v<T>) {
        using U = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
        return static_cast<T>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
      } else {
        return a * b;
      }
    case ReduceOp::min:
      if constexpr (!std::is_integral_v<T>) { if (a != a) return a; if (b != b) return b; }
      return a < b ? a : b;
    case ReduceOp::max:
      if constexpr (!std::is_integral_v<T>) { if (a != a) return a; if (b != b) return b; }
      return a > b ? a : b;
  }
  return a;
}

template <typename T>
void typed(void* out, const void* a, const void* b, size_t n, ReduceOp op) {
  for (size_t i = 0; i < n; ++i) {
    T x, y;
    std::memcpy(&x, static_cast<const char*>(a) + i * sizeof(T), sizeof(T));
    std::memcpy(&y, static_cast<const char*>(b) + i * sizeof(T), sizeof(T));
    T r = apply(x, y, op);
    std::memcpy(static_cast<char*>(out) + i * sizeof(T), &r, sizeof(T));
  }
}

template <float (*Load)(uint16_t), uint16_t (*Store)(float)>
void half_like(void* out, const void* a, const void* b, size_t n, ReduceOp op) {
  for (size_t i = 0; i < n; ++i) {
    uint16_t x, y;
    std::memcpy(&x, static_cast<const char*>(a) + i * 2, 2);
    std::memcpy(&y, static_cast<const char*>(b) + i * 2, 2);
    uint16_t r = Store(apply(Load(x), Load(y), op));
    std::memcpy(static_cast<char*>(out) + i * 2, &r, 2);
  }
}

}  // namespace scalar_detail

inline void reduce(void* out, const void* a, const void* b, size_t count, DataType type,
                   ReduceOp op) {
  using namespace scalar_detail;
  switch (type) {
    case DataType::f32: return typed<float>(out, a, b, count, op);
    case DataType::f64: return typed<double>(out, a, b, count, op);
    case DataType::f16: return half_like<half_to_float, float_to_half>(out, a, b, count, op);
    case DataType::bf16: return half_like<bf16_to_float, float_to_bf16>(out, a, b, count, op);
    case DataType::i8: return typed<int8_t>(out, a, b, count, op);
    case DataType::u8: return typed<uint8_t>(out, a, b, count, op);
    case DataType::i32: return typed<int32_t>(out, a, b, count, op);
    case DataType::u32: return typed<uint32_t>(out, a, b, count, op);
    case DataType::i64: return typed<int64_t>(out, a, b, count, op);
    case DataType::u64: return typed<uint64_t>(out, a, b, count, op);
  }
}

inline void reduce_inplace(void* inout, const void* in, size_t count, DataType type, ReduceOp op) {
  reduce(inout, inout, in, count, type, op);
}

inline void scale_for_average(void* inout, size_t count, DataType type, int contributions) {
  using namespace scalar_detail;
  auto each = [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < count; ++i) {
      T x;
      std::memcpy(&x, static_cast<char*>(inout) + i * sizeof(T), sizeof(T));
      x = static_cast<T>(x / static_cast<T>(contributions));
      std::memcpy(static_cast<char*>(inout) + i * sizeof(T), &x, sizeof(T));
    }
  };
  auto each_half = [&](auto load, auto store) {
    for (size_t i = 0; i < count; ++i) {
      uint16_t x;
      std::memcpy(&x, static_cast<char*>(inout) + i * 2, 2);
      x = store(load(x) / static_cast<float>(contributions));
      std::memcpy(static_cast<char*>(inout) + i * 2, &x, 2);
    }
  };
  switch (type) {
    case DataType::f32: return each(float{});
    case DataType::f64: return each(double{});
    case DataType::f16: return each_half(half_to_float, float_to_half);
    case DataType::bf16: return each_half(bf16_to_float, float_to_bf16);
    case DataType::i8: return each(int8_t{});
    case DataType::u8: return each(uint8_t{});
    case DataType::i32: return each(int32_t{});
    case DataType::u32: return each(uint32_t{});
    case DataType::i64: return each(int64_t{});
    case DataType::u64: return each(uint64_t{});
  }
}

}  // namespace weft
