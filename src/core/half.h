// IEEE binary16 (f16) and bfloat16 (bf16) <-> float conversions, bit-exact and
// portable. Values are carried as their raw uint16_t bit patterns.
//
// Rules (the same as x86 F16C / AVX-512 and as PyTorch):
//  - float -> f16/bf16 rounds to nearest, ties to even; overflow becomes +-Inf;
//    f16 results below 2^-14 become subnormals (or +-0), never flushed.
//  - NaN stays NaN: the sign and the top mantissa bits are kept and the quiet
//    bit is set (a NaN whose payload lives only in the dropped low bits would
//    otherwise turn into Inf).
//  - f16/bf16 -> float is exact (every value is representable); an f16 NaN
//    comes out quiet with its payload (bf16 -> float is a plain bit shift).
//
// These functions are force-inlined: the reduction kernels include this header
// from translation units compiled for different ISAs (-mavx2, -mavx512f), and an
// out-of-line copy shared through the linker could carry AVX instructions into
// the portable path.
#pragma once

#include <bit>
#include <cstdint>

namespace weft::half {

#define WEFT_HALF_INLINE [[gnu::always_inline]] inline

WEFT_HALF_INLINE float bf16_to_float(uint16_t h) noexcept {
  return std::bit_cast<float>(uint32_t{h} << 16);
}

WEFT_HALF_INLINE uint16_t float_to_bf16(float f) noexcept {
  uint32_t x = std::bit_cast<uint32_t>(f);
  // Adding 0x7fff (+1 when the kept lsb is odd) carries into the kept half
  // exactly when the dropped half is above the tie, or at the tie with an odd lsb.
  uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  uint32_t quiet_nan = (x >> 16) | 0x40u;
  return static_cast<uint16_t>(f != f ? quiet_nan : rounded);  // (f != f: one vector compare)
}

WEFT_HALF_INLINE float f16_to_float(uint16_t h) noexcept {
  uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exp_mant = h & 0x7fffu;
  if (exp_mant == 0x7c00u) return std::bit_cast<float>(sign | 0x7f800000u);  // Inf
  if (exp_mant > 0x7c00u)  // NaN: payload moved up 13 bits, made quiet (as F16C does)
    return std::bit_cast<float>(sign | 0x7fc00000u | ((exp_mant & 0x3ffu) << 13));
  if (exp_mant >= 0x0400u)  // normal: rebias the exponent from 15 to 127
    return std::bit_cast<float>(sign | ((exp_mant << 13) + ((127u - 15u) << 23)));
  // subnormal or zero: mantissa * 2^-24, exact in float
  float magnitude = static_cast<float>(exp_mant) * 0x1p-24f;
  return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
}

WEFT_HALF_INLINE uint16_t float_to_f16(float f) noexcept {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u)  // NaN: keep the top 9 payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
  if (x >= 0x47800000u)  // >= 65536 (or Inf): beyond any rounding to 65504
    return static_cast<uint16_t>(sign | 0x7c00u);
  if (x < 0x38800000u) {  // below 2^-14: the result is subnormal or zero
    // Adding 0.5f places the value's 2^-24 units in the low mantissa bits of
    // a float in [0.5, 1), and the FPU rounds to nearest-even while doing it.
    float shifted = std::bit_cast<float>(x) + 0.5f;
    return static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(shifted) - 0x3f000000u));
  }
  // normal: rebias, then round the 13 dropped bits to nearest-even; a carry out
  // of the mantissa bumps the exponent (up to Inf for [65520, 65536)), as it must.
  uint32_t odd = (x >> 13) & 1u;
  x += ((15u - 127u) << 23) + 0xfffu + odd;
  return static_cast<uint16_t>(sign | (x >> 13));
}

#undef WEFT_HALF_INLINE

}  // namespace weft::half
