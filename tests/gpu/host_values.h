// Host-side typed values for GPU collective checks: converting between the
// bytes of any weft dtype and double (f16/bf16 through core/half.h),
// and integer arithmetic that wraps exactly like the device kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/half.h"
#include "weft/dtype.h"

namespace weft::test {

// Writes v (an integer-valued or float value) as element i of a `type` buffer.
inline void put(std::vector<uint8_t>& buf, DataType type, size_t i, double v) {
  uint8_t* p = buf.data() + i * size_of(type);
  auto store = [&](auto x) { std::memcpy(p, &x, sizeof(x)); };
  switch (type) {
    case DataType::f32: return store(static_cast<float>(v));
    case DataType::f64: return store(v);
    case DataType::f16: return store(half::float_to_f16(static_cast<float>(v)));
    case DataType::bf16: return store(half::float_to_bf16(static_cast<float>(v)));
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
    case DataType::f16: return half::f16_to_float(load(uint16_t{}));
    case DataType::bf16: return half::bf16_to_float(load(uint16_t{}));
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
