// The reducer on a one-rank communicator in this process: launch order,
// argument errors and their exact messages. Averages across real processes
// are in multiprocess_test.cc.
#include <gtest/gtest.h>

#include <numeric>

#include "weft/communicator.h"
#include "weft/ddp.h"
#include "weft/error.h"
#include "weft/store.h"

namespace weft::ddp {
namespace {

class OneRank : public ::testing::Test {
 protected:
  HashStore store;
  Communicator comm = Communicator::init(store, 0, 1);
};

template <typename F>
void expect_error(F&& f, ErrorCode code, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no error, expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_EQ(e.message(), message);
  }
}

TEST_F(OneRank, BucketsLaunchStrictlyInOrder) {
  std::vector<std::vector<float>> grads(4, std::vector<float>(256, 1.0f));
  std::vector<Param> params;
  for (auto& g : grads) params.push_back({.numel = g.size(), .grad = g.data()});
  // Caps of one byte: one parameter per bucket, buckets {3}, {2}, {1}, {0}.
  Reducer reducer(comm, params, {.first_bucket_bytes = 1, .bucket_bytes = 1});
  ASSERT_EQ(reducer.buckets(), (std::vector<std::vector<size_t>>{{3}, {2}, {1}, {0}}));
  reducer.mark_ready(1);  // bucket 2 is full, but bucket 0 has not launched
  EXPECT_EQ(reducer.launched_buckets(), 0u);
  reducer.mark_ready(3);  // bucket 0
  EXPECT_EQ(reducer.launched_buckets(), 1u);
  reducer.mark_ready(2);  // bucket 1, then the waiting bucket 2
  EXPECT_EQ(reducer.launched_buckets(), 3u);
  reducer.mark_ready(0);
  EXPECT_EQ(reducer.launched_buckets(), 4u);
  reducer.finalize();
  EXPECT_EQ(reducer.launched_buckets(), 0u);
  EXPECT_EQ(reducer.iteration(), 1u);
  // Ready order 1, 3, 2, 0 -> rebuilt, first bucket = the first ready gradient.
  EXPECT_TRUE(reducer.rebuilt());
  EXPECT_EQ(reducer.buckets(), (std::vector<std::vector<size_t>>{{1}, {3}, {2}, {0}}));
  for (auto& g : grads) EXPECT_EQ(g[17], 1.0f);
}

TEST_F(OneRank, BucketViewGradientsSurviveTheRebuild) {
  std::vector<Param> params(3, Param{.numel = 100, .dtype = DataType::f64});
  Reducer reducer(comm, params,
                  {.first_bucket_bytes = 1, .bucket_bytes = 1, .gradient_as_bucket_view = true});
  for (size_t i : {0, 2, 1}) {
    auto* g = static_cast<double*>(reducer.gradient(i));
    std::iota(g, g + 100, 1000.0 * i);
    reducer.mark_ready(i);
  }
  void* before = reducer.gradient(0);
  reducer.finalize();
  EXPECT_TRUE(reducer.rebuilt());
  EXPECT_NE(reducer.gradient(0), before);  // moved to the rebuilt bucket
  for (size_t i = 0; i < 3; ++i) {
    auto* g = static_cast<double*>(reducer.gradient(i));
    for (int k = 0; k < 100; ++k) ASSERT_EQ(g[k], 1000.0 * i + k) << i << " " << k;
  }
}

TEST_F(OneRank, MarkingTwiceIsAnError) {
  std::vector<float> g(8);
  Reducer reducer(comm, {{.numel = 8, .grad = g.data()}}, {});
  reducer.mark_ready(0);
  expect_error([&] { reducer.mark_ready(0); }, ErrorCode::InvalidArgument,
               "rank 0: ddp::Reducer::mark_ready: parameter 0 marked ready twice in iteration 0");
  expect_error([&] { reducer.mark_ready(1); }, ErrorCode::InvalidArgument,
               "rank 0: ddp::Reducer::mark_ready: parameter 1 out of range (1 parameters)");
}

TEST_F(OneRank, MissingGradientWithoutFindUnusedNamesIt) {
  std::vector<std::vector<float>> grads(5, std::vector<float>(8));
  std::vector<Param> params;
  for (auto& g : grads) params.push_back({.numel = 8, .grad = g.data()});
  Reducer reducer(comm, params, {});
  for (size_t i : {0, 1, 3}) reducer.mark_ready(i);
  expect_error([&] { reducer.finalize(); }, ErrorCode::InvalidArgument,
               "rank 0: ddp::Reducer::finalize (iteration 0): parameter 2 was never marked ready "
               "(2 of 5 parameters missing); set find_unused_parameters when some parameters "
               "get no gradient");
}

TEST_F(OneRank, ConstructionErrors) {
  expect_error([&] { Reducer r(comm, {{.numel = 4}}, {}); }, ErrorCode::InvalidArgument,
               "rank 0: ddp::Reducer: parameter 0 has no gradient buffer (Param::grad is null)");
  float g[4];
  expect_error([&] { Reducer r(comm, {{.numel = 4, .device = Device::cuda(0), .grad = g}}, {}); },
               ErrorCode::Unsupported,
               "rank 0: ddp::Reducer: parameter 0 is on a CUDA device; the reducer supports host "
               "memory only");
  expect_error([&] { compress_hook(DataType::f32); }, ErrorCode::InvalidArgument,
               "ddp::compress_hook: the compressed type must be f16 or bf16, not f32");
}

TEST_F(OneRank, CompressHookRoundsToHalfPrecision) {
  // One rank: the "average" is the value itself, rounded through f16.
  std::vector<float> g = {1.0f, 0.1f, 65504.0f, -3.14159f};
  Reducer reducer(comm, {{.numel = g.size(), .grad = g.data()}},
                  {.comm_hook = compress_hook(DataType::f16)});
  reducer.mark_ready(0);
  reducer.finalize();
  EXPECT_EQ(g[0], 1.0f);
  EXPECT_EQ(g[1], 0.0999755859375f);  // nearest f16 to 0.1
  EXPECT_EQ(g[2], 65504.0f);
  EXPECT_EQ(g[3], -3.140625f);
}

}  // namespace
}  // namespace weft::ddp
