// The documented corner cases of weft/reduce.h with hand-written values (NaN,
// signed zeros, wrap-around, truncating average), checked at every level the
// CPU runs, and the exact errors for bad arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/cpu_isa.h"
#include "core/half.h"
#include "weft/error.h"
#include "weft/reduce.h"

namespace weft {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Runs `body` once per supported level; restores the best level afterwards.
template <class F>
void at_every_level(F&& body) {
  for (CpuIsa isa : detail::supported_cpu_isas()) {
    SCOPED_TRACE(to_string(isa));
    detail::set_cpu_isa_for_testing(isa);
    body();
  }
  detail::set_cpu_isa_for_testing(detail::supported_cpu_isas().back());
}

// Repeats a pattern so that it reaches both the vector body and the scalar tail.
template <class T>
std::vector<T> tile(std::initializer_list<T> pattern, size_t count = 301) {
  std::vector<T> out;
  while (out.size() < count) out.insert(out.end(), pattern);
  out.resize(count);
  return out;
}

TEST(ReduceSemantics, FloatMinMaxPropagateNaNAndTiesPickSecond) {
  at_every_level([] {
    auto a = tile<float>({kNaN, 1.0f, 2.0f, 0.0f, -0.0f, kInf, -kInf, 3.0f});
    auto b = tile<float>({1.0f, kNaN, 2.0f, -0.0f, 0.0f, 5.0f, 5.0f, kNaN});
    std::vector<float> lo(a.size()), hi(a.size());
    reduce(lo.data(), a.data(), b.data(), a.size(), DataType::f32, ReduceOp::min);
    reduce(hi.data(), a.data(), b.data(), a.size(), DataType::f32, ReduceOp::max);
    for (size_t i = 0; i + 8 <= a.size(); i += 8) {
      EXPECT_TRUE(std::isnan(lo[i]) && std::isnan(hi[i])) << i;
      EXPECT_TRUE(std::isnan(lo[i + 1]) && std::isnan(hi[i + 1])) << i;
      EXPECT_EQ(lo[i + 2], 2.0f);
      EXPECT_TRUE(std::signbit(lo[i + 3]) && std::signbit(hi[i + 3])) << "tie gives b (-0)";
      EXPECT_TRUE(!std::signbit(lo[i + 4]) && !std::signbit(hi[i + 4])) << "tie gives b (+0)";
      EXPECT_EQ(lo[i + 5], 5.0f);
      EXPECT_EQ(hi[i + 5], kInf);
      EXPECT_EQ(lo[i + 6], -kInf);
      EXPECT_EQ(hi[i + 6], 5.0f);
      EXPECT_TRUE(std::isnan(lo[i + 7]) && std::isnan(hi[i + 7]));
    }
  });
}

TEST(ReduceSemantics, HalfTypesAccumulateInF32AndPropagateNaN) {
  at_every_level([] {
    // 2048 + 1 is not representable in f16 (spacing 2 there): a tie, rounded to
    // even (2048); 2048 + 3 rounds to 2052 (tie to even) on the one store.
    const uint16_t f2048 = half::float_to_f16(2048.0f);
    auto a = tile<uint16_t>({f2048, f2048, half::float_to_f16(kNaN), half::float_to_f16(65504.0f)});
    auto b = tile<uint16_t>({half::float_to_f16(1.0f), half::float_to_f16(3.0f),
                             half::float_to_f16(1.0f), half::float_to_f16(65504.0f)});
    std::vector<uint16_t> out(a.size());
    reduce(out.data(), a.data(), b.data(), a.size(), DataType::f16, ReduceOp::sum);
    for (size_t i = 0; i + 3 < a.size(); i += 4) {
      EXPECT_EQ(half::f16_to_float(out[i]), 2048.0f);
      EXPECT_EQ(half::f16_to_float(out[i + 1]), 2052.0f);
      EXPECT_TRUE(std::isnan(half::f16_to_float(out[i + 2])));
      EXPECT_EQ(half::f16_to_float(out[i + 3]), kInf) << "overflow on store becomes Inf";
    }
    // Eight bf16 inputs of 1.015625 (1 + 2^-6): summed in f32 they give exactly
    // 8.125, representable in bf16. Rounding to bf16 after every step would
    // lose the low bits once the sum passes 4 and end at 8.0625.
    std::vector<std::vector<uint16_t>> in(8, tile<uint16_t>({half::float_to_bf16(1.015625f)}, 40));
    std::vector<const void*> ptrs;
    for (auto& v : in) ptrs.push_back(v.data());
    std::vector<uint16_t> sum(40);
    reduce_many(sum.data(), ptrs.data(), 8, 40, DataType::bf16, ReduceOp::sum);
    for (uint16_t v : sum) EXPECT_EQ(half::bf16_to_float(v), 8.125f);
  });
}

TEST(ReduceSemantics, IntegersWrapAround) {
  at_every_level([] {
    auto a = tile<int32_t>({std::numeric_limits<int32_t>::max(), -5, 65536});
    auto b = tile<int32_t>({1, 7, 65536});
    std::vector<int32_t> sum(a.size()), prod(a.size());
    reduce(sum.data(), a.data(), b.data(), a.size(), DataType::i32, ReduceOp::sum);
    reduce(prod.data(), a.data(), b.data(), a.size(), DataType::i32, ReduceOp::prod);
    for (size_t i = 0; i + 2 < a.size(); i += 3) {
      EXPECT_EQ(sum[i], std::numeric_limits<int32_t>::min());
      EXPECT_EQ(sum[i + 1], 2);
      EXPECT_EQ(prod[i + 1], -35);
      EXPECT_EQ(prod[i + 2], 0) << "2^32 wraps to 0";
    }
    auto c = tile<int8_t>({-128, 16, 127});
    auto d = tile<int8_t>({-1, 16, 127});
    std::vector<int8_t> p8(c.size());
    reduce(p8.data(), c.data(), d.data(), c.size(), DataType::i8, ReduceOp::prod);
    for (size_t i = 0; i + 2 < c.size(); i += 3) {
      EXPECT_EQ(p8[i], -128) << "-128 * -1 wraps to -128";
      EXPECT_EQ(p8[i + 1], 0);
      EXPECT_EQ(p8[i + 2], 1) << "127 * 127 = 16129 = 63 * 256 + 1";
    }
  });
}

TEST(ReduceSemantics, AverageTruncatesIntegersTowardZero) {
  at_every_level([] {
    auto v = tile<int32_t>({-7, 7, -1, 5, std::numeric_limits<int32_t>::min()});
    scale_for_average(v.data(), v.size(), DataType::i32, 2);
    for (size_t i = 0; i + 4 < v.size(); i += 5) {
      EXPECT_EQ(v[i], -3);
      EXPECT_EQ(v[i + 1], 3);
      EXPECT_EQ(v[i + 2], 0);
      EXPECT_EQ(v[i + 3], 2);
      EXPECT_EQ(v[i + 4], -1073741824);
    }
    auto w = tile<int64_t>({-7, std::numeric_limits<int64_t>::max()});
    scale_for_average(w.data(), w.size(), DataType::i64, 3);
    EXPECT_EQ(w[0], -2);
    EXPECT_EQ(w[1], std::numeric_limits<int64_t>::max() / 3);
    auto f = tile<float>({1.0f, -3.0f});
    scale_for_average(f.data(), f.size(), DataType::f32, 4);
    EXPECT_EQ(f[0], 0.25f);
    EXPECT_EQ(f[1], -0.75f);
  });
}

TEST(ReduceSemantics, AvgReducesAsSum) {
  std::vector<double> a = {1.5, 2.0}, b = {2.5, -4.0}, out(2);
  reduce(out.data(), a.data(), b.data(), 2, DataType::f64, ReduceOp::avg);
  EXPECT_EQ(out, (std::vector<double>{4.0, -2.0}));
}

TEST(ReduceSemantics, ZeroCountAcceptsNullPointers) {
  EXPECT_NO_THROW(reduce(nullptr, nullptr, nullptr, 0, DataType::f32, ReduceOp::sum));
  EXPECT_NO_THROW(reduce_many(nullptr, nullptr, 3, 0, DataType::u8, ReduceOp::max));
  EXPECT_NO_THROW(scale_for_average(nullptr, 0, DataType::bf16, 4));
}

// Asserts that `body` throws weft::Error with exactly `code` and `message`.
template <class F>
void expect_error(F&& body, ErrorCode code, const std::string& message) {
  try {
    body();
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code);
    EXPECT_EQ(e.message(), message);
  }
}

TEST(ReduceErrors, BadArgumentsAreRejectedWithExactMessages) {
  std::vector<float> buf(64);
  float* p = buf.data();
  expect_error([&] { reduce(p, p + 32, p + 16, 16, static_cast<DataType>(42), ReduceOp::sum); },
               ErrorCode::InvalidArgument, "reduce: invalid DataType value 42");
  expect_error([&] { reduce(p, p + 32, p + 16, 16, DataType::f32, static_cast<ReduceOp>(9)); },
               ErrorCode::InvalidArgument, "reduce: invalid ReduceOp value 9");
  expect_error([&] { reduce(p + 1, p, p + 32, 16, DataType::f32, ReduceOp::sum); },
               ErrorCode::InvalidArgument,
               "reduce: output partially overlaps input 0 (it may only be the same buffer or "
               "disjoint)");
  expect_error([&] { reduce(p, p + 32, nullptr, 16, DataType::f32, ReduceOp::sum); },
               ErrorCode::InvalidArgument, "reduce: an input is null");
  const void* none[1] = {p};
  expect_error([&] { reduce_many(p + 32, none, 0, 16, DataType::f32, ReduceOp::sum); },
               ErrorCode::InvalidArgument, "reduce: n_inputs must be >= 1, got 0");
  std::vector<const void*> many(9, p + 32);
  many[8] = p;
  expect_error([&] { reduce_many(p, many.data(), 9, 16, DataType::f32, ReduceOp::sum); },
               ErrorCode::InvalidArgument,
               "reduce: with more than 8 inputs the output may only alias one of the first 8 "
               "(it is input 8)");
  expect_error([&] { scale_for_average(p, 16, DataType::f32, 0); }, ErrorCode::InvalidArgument,
               "scale_for_average: contributions must be >= 1, got 0");
}

TEST(ReduceErrors, UnsupportedLevelIsRefused) {
  auto supported = detail::supported_cpu_isas();
  ASSERT_FALSE(supported.empty());
  EXPECT_EQ(supported.front(), CpuIsa::portable);
  if (supported.back() == CpuIsa::avx512) GTEST_SKIP() << "every level runs on this CPU";
  expect_error([] { detail::set_cpu_isa_for_testing(CpuIsa::avx512); }, ErrorCode::Unsupported,
               "reduction kernels for avx512 cannot run on this CPU/build");
}

}  // namespace
}  // namespace weft
