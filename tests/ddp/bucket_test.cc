// Bucket assignment: caps, reverse order, dtype/device grouping, launch order.
#include <gtest/gtest.h>

#include "weft/ddp.h"
#include "weft/error.h"

namespace weft::ddp {
namespace {

using Buckets = std::vector<std::vector<size_t>>;

std::vector<Param> f32_params(size_t n, size_t numel) {
  return std::vector<Param>(n, Param{.numel = numel, .dtype = DataType::f32});
}

TEST(BucketAssignment, ReverseOrderSmallFirstBucketThenCap) {
  auto params = f32_params(10, 256);  // 1 KiB each
  auto buckets = assign_buckets(params, reverse_order(10), 2048, 4096);
  EXPECT_EQ(buckets, (Buckets{{9, 8}, {7, 6, 5, 4}, {3, 2, 1, 0}}));
}

TEST(BucketAssignment, DefaultCapsAreOneAndTwentyFiveMiB) {
  ReducerOptions defaults;
  EXPECT_EQ(defaults.first_bucket_bytes, size_t{1} << 20);
  EXPECT_EQ(defaults.bucket_bytes, size_t{25} << 20);
  auto params = f32_params(30, 1 << 18);  // 1 MiB each
  auto buckets = assign_buckets(params, reverse_order(30), defaults.first_bucket_bytes,
                                defaults.bucket_bytes);
  ASSERT_EQ(buckets.size(), 3u);
  EXPECT_EQ(buckets[0], (std::vector<size_t>{29}));
  EXPECT_EQ(buckets[1].size(), 25u);
  EXPECT_EQ(buckets[1].front(), 28u);
  EXPECT_EQ(buckets[1].back(), 4u);
  EXPECT_EQ(buckets[2], (std::vector<size_t>{3, 2, 1, 0}));
}

TEST(BucketAssignment, ParameterLargerThanTheCapGetsItsOwnBucket) {
  std::vector<Param> params = {{.numel = 10}, {.numel = 100000}, {.numel = 10}};
  auto buckets = assign_buckets(params, reverse_order(3), 64, 1024);
  EXPECT_EQ(buckets, (Buckets{{2, 1}, {0}}));
}

TEST(BucketAssignment, OneDtypePerBucketEachWithItsOwnFirstCap) {
  // Alternating f32 (1 KiB) and f64 (2 KiB).
  std::vector<Param> params;
  for (int i = 0; i < 8; ++i)
    params.push_back(i % 2 == 0 ? Param{.numel = 256, .dtype = DataType::f32}
                                : Param{.numel = 256, .dtype = DataType::f64});
  auto buckets = assign_buckets(params, reverse_order(8), 2048, 4096);
  // f64 (7,5,3,1): first closes at 2 KiB = {7}, then {5,3} (4 KiB), then {1}.
  // f32 (6,4,2,0): first {6,4}, then {2,0} left open.
  // Sorted by the position of their first member in the order 7..0.
  EXPECT_EQ(buckets, (Buckets{{7}, {6, 4}, {5, 3}, {2, 0}, {1}}));
  for (const auto& b : buckets)
    for (size_t i : b) EXPECT_EQ(params[i].dtype, params[b.front()].dtype);
}

TEST(BucketAssignment, DevicesAreNeverMixed) {
  std::vector<Param> params = {{.numel = 4, .device = Device::cuda(0)},
                               {.numel = 4, .device = Device::cuda(1)},
                               {.numel = 4},
                               {.numel = 4, .device = Device::cuda(0)}};
  auto buckets = assign_buckets(params, reverse_order(4), 1 << 20, 1 << 20);
  EXPECT_EQ(buckets, (Buckets{{3, 0}, {2}, {1}}));
}

TEST(BucketAssignment, FollowsTheGivenOrder) {
  auto params = f32_params(6, 256);
  std::vector<size_t> order = {2, 5, 0, 1, 4, 3};
  auto buckets = assign_buckets(params, order, 1024, 2048);
  EXPECT_EQ(buckets, (Buckets{{2}, {5, 0}, {1, 4}, {3}}));
}

TEST(BucketAssignment, RejectsAnOrderThatIsNotAPermutation) {
  auto params = f32_params(3, 4);
  std::vector<size_t> twice = {0, 1, 1};
  try {
    assign_buckets(params, twice, 16, 16);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(e.message(), "ddp::assign_buckets: order is not a permutation (parameter 1)");
  }
  std::vector<size_t> short_order = {0, 1};
  try {
    assign_buckets(params, short_order, 16, 16);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "ddp::assign_buckets: order has 2 entries for 3 parameters");
  }
}

TEST(BucketAssignment, NoParametersNoBuckets) {
  EXPECT_TRUE(assign_buckets({}, {}, 16, 16).empty());
}

}  // namespace
}  // namespace weft::ddp
