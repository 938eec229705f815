// Dispatch from a runtime DataType to the C++ type the comparators support.
#pragma once

#include <cstdint>

#include "weft/dtype.h"
#include "weft/error.h"

namespace weft::perf {

// The dtypes the comparators run: those with an exact integer-valued check and
// an MPI datatype and Gloo reduction for each.
inline bool comparator_supports(DataType t) noexcept {
  return t == DataType::f32 || t == DataType::f64 || t == DataType::i32 || t == DataType::i64;
}

// Calls f(T{}) with T the C++ type of `t`.
template <typename F>
decltype(auto) visit_dtype(DataType t, F&& f) {
  switch (t) {
    case DataType::f32: return f(float{});
    case DataType::f64: return f(double{});
    case DataType::i32: return f(std::int32_t{});
    case DataType::i64: return f(std::int64_t{});
    default: break;
  }
  throw_error(ErrorCode::Unsupported,
              str("comparators support f32, f64, i32 and i64, not ", to_string(t)));
}

}  // namespace weft::perf
