// Element types and reduction operators shared by every layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace weft {

enum class DataType : uint8_t { f32, f64, f16, bf16, i8, u8, i32, u32, i64, u64 };
inline constexpr DataType kAllDataTypes[] = {DataType::f32, DataType::f64, DataType::f16,
                                             DataType::bf16, DataType::i8, DataType::u8,
                                             DataType::i32, DataType::u32, DataType::i64,
                                             DataType::u64};

// avg = sum divided by the number of contributions (integers: truncating division).
enum class ReduceOp : uint8_t { sum, prod, min, max, avg };
inline constexpr ReduceOp kAllReduceOps[] = {ReduceOp::sum, ReduceOp::prod, ReduceOp::min,
                                             ReduceOp::max, ReduceOp::avg};

constexpr size_t size_of(DataType type) noexcept {
  switch (type) {
    case DataType::f64: case DataType::i64: case DataType::u64: return 8;
    case DataType::f32: case DataType::i32: case DataType::u32: return 4;
    case DataType::f16: case DataType::bf16: return 2;
    case DataType::i8: case DataType::u8: return 1;
  }
  return 0;
}

constexpr bool is_floating(DataType type) noexcept {
  return type == DataType::f32 || type == DataType::f64 || type == DataType::f16 ||
         type == DataType::bf16;
}

const char* to_string(DataType type) noexcept;
const char* to_string(ReduceOp op) noexcept;
// Accepts weft names (f32, bf16, ...) and common aliases (float, float32, half, int32, ...).
std::optional<DataType> parse_data_type(std::string_view text) noexcept;
std::optional<ReduceOp> parse_reduce_op(std::string_view text) noexcept;

}  // namespace weft
