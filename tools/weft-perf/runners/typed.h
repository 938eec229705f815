// Dispatch from a runtime DataType to the C++ types Gloo's templates are
// instantiated for here (libraries.cc lists the same four for gloo).
#pragma once

#include <cstdint>

#include "weft/dtype.h"
#include "weft/error.h"

namespace weft::perf {

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
              str("gloo runner: no C++ type for ", to_string(t)));
}

}  // namespace weft::perf
