// The reduction loops, written once and compiled once per instruction-set level.
//
// Include this from exactly one .cc per level, after defining WEFT_KERNEL_ISA
// to that level's namespace name (portable, avx2, avx512). Everything here then
// lives in weft::detail::<level>, so the per-level copies of these templates
// never merge at link time (an AVX-512 instantiation picked by the linker for
// the portable path would crash older CPUs).
//
// How the loops vectorize without intrinsics: the data is walked in blocks of
// kBlockBytes, and the inner loop over one block has a constant trip count and
// `#pragma GCC ivdep`. A constant trip count lets even g++ -O2's "very cheap"
// cost model vectorize it (no scalar epilogue needed inside a block), and ivdep
// tells it what a runtime alias check could not prove: the output may be the
// very same array as an input, which is safe because element j of the output
// depends only on element j of the inputs. f16 needs intrinsics, because g++ 12
// does not vectorize float <-> _Float16 conversions (F16C does it), and bf16 on
// AVX2 has a hand-written path that is faster than the compiler's.
#pragma once

#ifndef WEFT_KERNEL_ISA
#error "define WEFT_KERNEL_ISA before including core/reduce_kernels.h"
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#if defined(__AVX2__) || defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/half.h"
#include "core/reduce_table.h"

namespace weft::detail::WEFT_KERNEL_ISA {

inline constexpr size_t kBlockBytes = 256;

// ---- element types: how an element is stored, and the type arithmetic uses --

template <class T>
struct Plain {
  using Storage = T;
  using Compute = T;
  static T load(T v) { return v; }
  static T store(T v) { return v; }
};

struct F16 {
  using Storage = uint16_t;
  using Compute = float;
  static float load(uint16_t v) { return half::f16_to_float(v); }
  static uint16_t store(float v) { return half::float_to_f16(v); }
};

struct BF16 {
  using Storage = uint16_t;
  using Compute = float;
  static float load(uint16_t v) { return half::bf16_to_float(v); }
  static uint16_t store(float v) { return half::float_to_bf16(v); }
};

// Whole vectors of f16 converted by F16C / AVX-512 (nearest-even, NaN kept quiet,
// exactly what half::float_to_f16 does one element at a time).
#if defined(__AVX512F__)
struct F16Vector {
  static constexpr size_t kWidth = 16;
  static __m512 load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store(uint16_t* p, __m512 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};
inline constexpr bool kHasF16Vector = true;
#elif defined(__F16C__)
struct F16Vector {
  static constexpr size_t kWidth = 8;
  static __m256 load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static void store(uint16_t* p, __m256 v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};
inline constexpr bool kHasF16Vector = true;
#else
inline constexpr bool kHasF16Vector = false;
#endif

// 16 bf16 at a time on AVX2, by hand: g++'s own vectorization of BF16 widens with
// vpmovzxwd and narrows with vpackusdw + vpermq (~37 instructions per 16 elements);
// unpacking against zero puts each bf16 straight into the top half of an f32 lane,
// and packus undoes that lane order exactly, ~1.8x faster on Zen 1. Same rounding
// as half::float_to_bf16. (The AVX-512 level keeps the compiler's version.)
#if defined(__AVX2__) && !defined(__AVX512F__)
struct BF16VectorLow {  // elements 0-3 and 8-11 of the 16 at p
  static __m256 load(const uint16_t* p) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm256_castsi256_ps(_mm256_unpacklo_epi16(_mm256_setzero_si256(), v));
  }
};
struct BF16VectorHigh {  // elements 4-7 and 12-15
  static __m256 load(const uint16_t* p) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm256_castsi256_ps(_mm256_unpackhi_epi16(_mm256_setzero_si256(), v));
  }
};
struct BF16Vector {
  static constexpr size_t kWidth = 16;
  static __m256i round(__m256 v) {
    __m256i x = _mm256_castps_si256(v);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), odd), 16);
    __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
    __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_epi8(rounded, quiet_nan, is_nan);
  }
  // Every lane holds a value <= 0xffff, so the saturating pack is exact.
  static void store(uint16_t* p, __m256 low, __m256 high) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        _mm256_packus_epi32(round(low), round(high)));
  }
};
inline constexpr bool kHasBF16Vector = true;
#else
inline constexpr bool kHasBF16Vector = false;
#endif

// ---- operators: written so they also apply to GCC vector types (__m256 ...) --

// Integer sum/prod run in an unsigned type at least as wide as `unsigned`, so
// overflow wraps instead of being undefined (and i8 * i8 cannot overflow int).
template <class T>
using WrapType = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

struct Sum {
  template <class T>
  static T apply(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(WrapType<T>(a) + WrapType<T>(b));
    else return a + b;
  }
};

struct Prod {
  template <class T>
  static T apply(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(WrapType<T>(a) * WrapType<T>(b));
    else return a * b;
  }
};

// Floats: NaN propagates (a NaN `b` because the comparison is false, a NaN `a`
// through the a != a test); ties, +0 vs -0 included, pick b. (Written as two
// selects: g++ 12 fails to vectorize chains of the `(a < b) | (a != a)` form.)
struct Min {
  template <class T>
  static T apply(T a, T b) {
    T smaller = a < b ? a : b;
    if constexpr (std::is_integral_v<T>) return smaller;
    else return a != a ? a : smaller;
  }
};

struct Max {
  template <class T>
  static T apply(T a, T b) {
    T larger = a > b ? a : b;
    if constexpr (std::is_integral_v<T>) return larger;
    else return a != a ? a : larger;
  }
};

// ---- reduce_many for a fixed number of inputs N (2..kMaxFusedInputs) --------

// inputs[0] op inputs[1] op ... op inputs[N-1] at `offset`, left to right, with
// the accumulator held in the Compute type.
template <class Loader, class Op, size_t N, class Pointer>
[[gnu::always_inline]] inline auto fold(const Pointer (&in)[N], size_t offset) {
  auto acc = Loader::load(in[0] + offset);
  [&]<size_t... K>(std::index_sequence<K...>) [[gnu::always_inline]] {
    ((acc = Op::apply(acc, Loader::load(in[K + 1] + offset))), ...);
  }(std::make_index_sequence<N - 1>{});
  return acc;
}

// Adapts element traits to the pointer-taking interface fold() uses.
template <class Tr>
struct ElementLoader {
  static auto load(const typename Tr::Storage* p) { return Tr::load(*p); }
};

template <class Tr, class Op, size_t N>
void reduce_many_fixed(void* out_raw, const void* const* inputs, size_t count) {
  using S = typename Tr::Storage;
  const S* in[N];
  for (size_t k = 0; k < N; ++k) in[k] = static_cast<const S*>(inputs[k]);
  S* out = static_cast<S*>(out_raw);
  size_t i = 0;
  if constexpr (std::is_same_v<Tr, F16> && kHasF16Vector) {
#if defined(__F16C__) || defined(__AVX512F__)
    for (; i + F16Vector::kWidth <= count; i += F16Vector::kWidth)
      F16Vector::store(out + i, fold<F16Vector, Op>(in, i));
#endif
  } else if constexpr (std::is_same_v<Tr, BF16> && kHasBF16Vector) {
#if defined(__AVX2__) && !defined(__AVX512F__)
    for (; i + BF16Vector::kWidth <= count; i += BF16Vector::kWidth) {
      __m256 low = fold<BF16VectorLow, Op>(in, i);
      __m256 high = fold<BF16VectorHigh, Op>(in, i);
      BF16Vector::store(out + i, low, high);
    }
#endif
  } else {
    constexpr size_t kBlock = kBlockBytes / sizeof(S);
    for (; i + kBlock <= count; i += kBlock) {
      S* block_out = out + i;
#pragma GCC ivdep
      for (size_t j = 0; j < kBlock; ++j)
        block_out[j] = Tr::store(fold<ElementLoader<Tr>, Op>(in, i + j));
    }
  }
  for (; i < count; ++i) out[i] = Tr::store(fold<ElementLoader<Tr>, Op>(in, i));
}

// ---- the division step of ReduceOp::avg --------------------------------------

template <class Tr>
[[gnu::always_inline]] inline typename Tr::Storage divide(typename Tr::Storage v, int n) {
  using S = typename Tr::Storage;
  using C = typename Tr::Compute;
  if constexpr (std::is_floating_point_v<C>) {
    return Tr::store(Tr::load(v) / static_cast<C>(n));
  } else if constexpr (sizeof(S) <= 4) {
    // Exact through double: |v| < 2^32, so the rounding error of v / n (at most
    // 2^-53 * 2^32 / n) is below 1 / n, the smallest distance from a
    // non-integer quotient to an integer; truncation then matches integer '/'.
    // Written this way because double division vectorizes and integer division
    // does not.
    return static_cast<S>(static_cast<double>(v) / static_cast<double>(n));
  } else {
    return static_cast<S>(v / static_cast<S>(n));
  }
}

template <class Tr>
void scale_kernel(void* inout, size_t count, int contributions) {
  using S = typename Tr::Storage;
  S* p = static_cast<S*>(inout);
  size_t i = 0;
  if constexpr (std::is_same_v<Tr, F16> && kHasF16Vector) {
#if defined(__F16C__) || defined(__AVX512F__)
    const float divisor = static_cast<float>(contributions);
    for (; i + F16Vector::kWidth <= count; i += F16Vector::kWidth)
      F16Vector::store(p + i, F16Vector::load(p + i) / divisor);
#endif
  } else {
    constexpr size_t kBlock = kBlockBytes / sizeof(S);
    for (; i + kBlock <= count; i += kBlock) {
      S* block = p + i;
      for (size_t j = 0; j < kBlock; ++j) block[j] = divide<Tr>(block[j], contributions);
    }
  }
  for (; i < count; ++i) p[i] = divide<Tr>(p[i], contributions);
}

// ---- the table -----------------------------------------------------------------

template <class Tr, class Op>
void fill_op(ReduceManyFn (&fns)[kMaxFusedInputs - 1]) {
  [&]<size_t... K>(std::index_sequence<K...>) {
    ((fns[K] = &reduce_many_fixed<Tr, Op, K + 2>), ...);
  }(std::make_index_sequence<kMaxFusedInputs - 1>{});
}

template <class Tr>
void fill_type(KernelTable& table, DataType type) {
  auto& ops = table.many[static_cast<int>(type)];
  fill_op<Tr, Sum>(ops[static_cast<int>(ReduceOp::sum)]);
  fill_op<Tr, Prod>(ops[static_cast<int>(ReduceOp::prod)]);
  fill_op<Tr, Min>(ops[static_cast<int>(ReduceOp::min)]);
  fill_op<Tr, Max>(ops[static_cast<int>(ReduceOp::max)]);
  table.scale[static_cast<int>(type)] = &scale_kernel<Tr>;
}

inline KernelTable make_table(CpuIsa isa) {
  KernelTable table{};
  table.isa = isa;
  fill_type<Plain<float>>(table, DataType::f32);
  fill_type<Plain<double>>(table, DataType::f64);
  fill_type<F16>(table, DataType::f16);
  fill_type<BF16>(table, DataType::bf16);
  fill_type<Plain<int8_t>>(table, DataType::i8);
  fill_type<Plain<uint8_t>>(table, DataType::u8);
  fill_type<Plain<int32_t>>(table, DataType::i32);
  fill_type<Plain<uint32_t>>(table, DataType::u32);
  fill_type<Plain<int64_t>>(table, DataType::i64);
  fill_type<Plain<uint64_t>>(table, DataType::u64);
  return table;
}

}  // namespace weft::detail::WEFT_KERNEL_ISA
