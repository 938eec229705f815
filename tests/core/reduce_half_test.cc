// core/half.h against independent references: libgcc's _Float16 conversions
// (software, since this file is built without -mf16c) for f16, and an exact
// nearest-even rounding computed in double for bf16.
#include "core/half.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace weft {
namespace {

uint16_t soft_f16_bits(float f) { return std::bit_cast<uint16_t>(static_cast<_Float16>(f)); }
float soft_f16_value(uint16_t h) { return static_cast<float>(std::bit_cast<_Float16>(h)); }

bool is_f16_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }
bool is_bf16_nan(uint16_t h) { return (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0; }

// The floats where rounding decisions happen: every f16/bf16 value, the exact
// midpoints between neighbours, one float ulp either side of each, specials,
// and random bit patterns.
std::vector<float> interesting_floats(bool bf16) {
  std::vector<float> out;
  auto value = [&](uint32_t h) {
    return bf16 ? half::bf16_to_float(static_cast<uint16_t>(h))
                : half::f16_to_float(static_cast<uint16_t>(h));
  };
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float v = value(h), next = value(h + 1);
    out.push_back(v);
    if (std::isfinite(v) && std::isfinite(next) && (h & 0x7fffu) != 0x7fffu) {
      float mid = static_cast<float>((static_cast<double>(v) + next) / 2);
      out.push_back(mid);
      out.push_back(std::nextafter(mid, 0.0f));
      out.push_back(std::nextafter(mid, std::copysign(INFINITY, mid)));
    }
  }
  for (float f : {65504.0f, 65519.99f, 65520.0f, 65535.0f, 65536.0f, 1e30f, 0x1p-24f, 0x1p-25f,
                  0x1.8p-25f, 0x1p-26f, 0x1p-14f, 0x1.ffcp-15f, 3.3895314e38f,
                  std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min()})
    for (float s : {1.0f, -1.0f}) out.push_back(f * s);
  std::mt19937 rng(7);
  for (int i = 0; i < 1 << 20; ++i) out.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
  return out;
}

TEST(Half, F16ToFloatMatchesLibgccForAllValues) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    auto bits = static_cast<uint16_t>(h);
    float mine = half::f16_to_float(bits), soft = soft_f16_value(bits);
    if (is_f16_nan(bits)) {
      ASSERT_TRUE(std::isnan(mine)) << std::hex << h;
      ASSERT_EQ(std::signbit(mine), std::signbit(soft)) << std::hex << h;
      // Quiet, payload kept in the top mantissa bits (as F16C does).
      ASSERT_EQ(std::bit_cast<uint32_t>(mine) & 0x7fffffu, 0x400000u | ((h & 0x3ffu) << 13));
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(mine), std::bit_cast<uint32_t>(soft)) << std::hex << h;
    }
  }
}

TEST(Half, FloatToF16RoundsToNearestEvenLikeLibgcc) {
  for (float f : interesting_floats(false)) {
    uint16_t mine = half::float_to_f16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(is_f16_nan(mine)) << f;
      ASSERT_EQ(mine >> 15, std::bit_cast<uint32_t>(f) >> 31);
      continue;
    }
    ASSERT_EQ(mine, soft_f16_bits(f)) << std::hexfloat << f;
  }
}

TEST(Half, NaNPayloadOnlyInLowBitsStaysNaN) {
  float low_payload_nan = std::bit_cast<float>(0x7f800001u);  // signalling, payload 1
  EXPECT_TRUE(is_f16_nan(half::float_to_f16(low_payload_nan)));
  EXPECT_TRUE(is_bf16_nan(half::float_to_bf16(low_payload_nan)));
  EXPECT_EQ(half::float_to_f16(-INFINITY), 0xfc00u);
  EXPECT_EQ(half::float_to_bf16(INFINITY), 0x7f80u);
}

// bf16 nearest-even, from first principles: the two bf16 neighbours of f (by
// truncation and the next one up in magnitude, 2^128 standing in for Inf)
// compared in double, where every quantity involved is exact.
uint16_t reference_bf16(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  uint32_t sign = bits & 0x80000000u, mag = bits & 0x7fffffffu;
  uint32_t down = mag & 0xffff0000u;
  double low = std::bit_cast<float>(down);
  double ulp = down >= 0x00800000u ? std::ldexp(1.0, static_cast<int>(down >> 23) - 127 - 7)
                                   : std::ldexp(1.0, -126 - 7);
  double high = low + ulp, x = std::bit_cast<float>(mag);
  uint32_t pick = down;
  if (x - low > high - x || (x - low == high - x && ((down >> 16) & 1u))) pick = down + 0x10000u;
  return static_cast<uint16_t>((sign | pick) >> 16);  // pick == 0x7f800000 is Inf, as it must be
}

TEST(Half, FloatToBf16RoundsToNearestEven) {
  for (float f : interesting_floats(true)) {
    uint16_t mine = half::float_to_bf16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(is_bf16_nan(mine)) << f;
      ASSERT_EQ(mine >> 15, std::bit_cast<uint32_t>(f) >> 31);
      continue;
    }
    ASSERT_EQ(mine, reference_bf16(f)) << std::hexfloat << f;
  }
}

TEST(Half, Bf16ToFloatIsExact) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = half::bf16_to_float(static_cast<uint16_t>(h));
    ASSERT_EQ(std::bit_cast<uint32_t>(f), h << 16);
    if (!std::isnan(f)) {
      ASSERT_EQ(half::float_to_bf16(f), h) << "round trip " << std::hex << h;
    }
  }
}

}  // namespace
}  // namespace weft
