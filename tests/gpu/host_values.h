// Host-side typed values for GPU collective checks: converting between the
// bytes of any weft dtype and double (f16/bf16 with round-to-nearest-even),
// and integer arithmetic that wraps exactly like the device kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "weft/dtype.h"

namespace weft::test {

inline uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    const uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) ++half;
  return static_cast<uint16_t>(half);
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) x = sign;
    else {
      int e = -1;
      do { ++e; mant <<= 1; } while (!(mant & 0x400u));
      x = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fffu + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

inline float bf16_to_float(uint16_t b) {
  uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// Writes v (an integer-valued or float value) as element i of a `type` buffer.
inline void put(std::vector<uint8_t>& buf, DataType type, size_t i, double v) {
  uint8_t* p = buf.data() + i * size_of(type);
  auto store = [&](auto x) { std::memcpy(p, &x, sizeof(x)); };
  switch (type) {
    case DataType::f32: return store(static_cast<float>(v));
    case DataType::f64: return store(v);
    case DataType::f16: return store(float_to_half(static_cast<float>(v)));
    case DataType::bf16: return store(float_to_bf16(static_cast<float>(v)));
    case DataType::i8: return store(static_cast<int8_t>(static_cast<int64_t>(v)));
    case DataType::u8: return store(static_cast<uint8_t>(static_cast<int64_t>(v)));
    case DataType::i32: return store(static_cast<int32_t>(static_cast<int64_t>(v)));
    case DataType::u32: return store(static_cast<uint32_t>(static_cast<int64_t>(v)));
    case DataType::i64: return store(static_cast<int64_t>(v));
    case DataType::u64: return store(static_cast<uint64_t>(static_cast<int64_t>(v)));
  }
}

inline double get(const std::vector<uint8_t>& buf, DataType type, size_t i) {
  const uint8_t* p = buf.data() + i * size_of(type);
  auto load = [&](auto x) { std::memcpy(&x, p, sizeof(x)); return x; };
  switch (type) {
    case DataType::f32: return load(float{});
    case DataType::f64: return load(double{});
    case DataType::f16: return half_to_float(load(uint16_t{}));
    case DataType::bf16: return bf16_to_float(load(uint16_t{}));
    case DataType::i8: return load(int8_t{});
    case DataType::u8: return load(uint8_t{});
    case DataType::i32: return load(int32_t{});
    case DataType::u32: return load(uint32_t{});
    case DataType::i64: return static_cast<double>(load(int64_t{}));
    case DataType::u64: return static_cast<double>(load(uint64_t{}));
  }
  return 0;
}

// Integer reference of an integer-typed reduction: accumulate in 64-bit with
// wrap-around, truncate to the type's width (exactly what the kernels do).
inline int64_t wrap_to(DataType type, uint64_t v) {
  switch (type) {
    case DataType::i8: return static_cast<int8_t>(v);
    case DataType::u8: return static_cast<uint8_t>(v);
    case DataType::i32: return static_cast<int32_t>(v);
    case DataType::u32: return static_cast<uint32_t>(v);
    case DataType::i64: return static_cast<int64_t>(v);
    case DataType::u64: return static_cast<int64_t>(v);  // compared bitwise below
    default: return 0;
  }
}

}  // namespace weft::test
