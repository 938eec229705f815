#include "weft/dtype.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(DataType, SizesAndNamesRoundTrip) {
  for (DataType t : kAllDataTypes) {
    EXPECT_GT(size_of(t), 0u);
    auto parsed = parse_data_type(to_string(t));
    ASSERT_TRUE(parsed.has_value()) << to_string(t);
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(size_of(DataType::bf16), 2u);
  EXPECT_EQ(size_of(DataType::u64), 8u);
  EXPECT_EQ(parse_data_type("float"), DataType::f32);
  EXPECT_EQ(parse_data_type("bfloat16"), DataType::bf16);
  EXPECT_FALSE(parse_data_type("f128").has_value());
}

TEST(ReduceOp, NamesRoundTrip) {
  for (ReduceOp op : kAllReduceOps) EXPECT_EQ(parse_reduce_op(to_string(op)), op);
  EXPECT_FALSE(parse_reduce_op("xor").has_value());
}

}  // namespace
}  // namespace weft
