// Test-side scalar reference for the reduction kernels, written independently
// of src/core/reduce_kernels.h: integers in 64-bit modular arithmetic, floats
// folded in double (and, for the exact check, left to right in the element
// type), f16/bf16 widened to float with core/half.h (itself tested against
// libgcc's _Float16 and an exact double-precision reference in
// reduce_half_test.cc).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/half.h"
#include "weft/dtype.h"

namespace weft::test {

struct F16Tag {};
struct BF16Tag {};

// The C++ element type a test tag stores.
template <class Tag> struct StorageOf { using type = Tag; };
template <> struct StorageOf<F16Tag> { using type = uint16_t; };
template <> struct StorageOf<BF16Tag> { using type = uint16_t; };
template <class Tag> using Storage = typename StorageOf<Tag>::type;

template <class Tag> constexpr bool kIsHalf = std::is_same_v<Tag, F16Tag> || std::is_same_v<Tag, BF16Tag>;

// Calls f.template operator()<Tag>() with the tag of `type`.
template <class F>
void visit_type(DataType type, F&& f) {
  switch (type) {
    case DataType::f32: return f.template operator()<float>();
    case DataType::f64: return f.template operator()<double>();
    case DataType::f16: return f.template operator()<F16Tag>();
    case DataType::bf16: return f.template operator()<BF16Tag>();
    case DataType::i8: return f.template operator()<int8_t>();
    case DataType::u8: return f.template operator()<uint8_t>();
    case DataType::i32: return f.template operator()<int32_t>();
    case DataType::u32: return f.template operator()<uint32_t>();
    case DataType::i64: return f.template operator()<int64_t>();
    case DataType::u64: return f.template operator()<uint64_t>();
  }
}

template <class Tag>
float widen(Storage<Tag> v) {
  if constexpr (std::is_same_v<Tag, F16Tag>) return half::f16_to_float(v);
  else return half::bf16_to_float(v);
}
template <class Tag>
Storage<Tag> narrow(float v) {
  if constexpr (std::is_same_v<Tag, F16Tag>) return half::float_to_f16(v);
  else return half::float_to_bf16(v);
}

// Float min/max as documented: NaN wins, ties (+0 / -0 included) give b.
template <class T>
T ref_min(T a, T b) {
  if (std::isnan(a)) return a;
  if (std::isnan(b)) return b;
  return a < b ? a : b;
}
template <class T>
T ref_max(T a, T b) {
  if (std::isnan(a)) return a;
  if (std::isnan(b)) return b;
  return a > b ? a : b;
}

template <class T>
T float_step(ReduceOp op, T a, T b) {
  switch (op) {
    case ReduceOp::sum: case ReduceOp::avg: return a + b;
    case ReduceOp::prod: return a * b;
    case ReduceOp::min: return ref_min(a, b);
    case ReduceOp::max: return ref_max(a, b);
  }
  return T{};
}

// Integers: 64-bit modular arithmetic, truncated to the element width at the end.
template <class T>
T integer_fold(ReduceOp op, const std::vector<const T*>& in, size_t i) {
  using U = std::make_unsigned_t<T>;
  uint64_t acc = static_cast<U>(in[0][i]);
  T best = in[0][i];
  for (size_t k = 1; k < in.size(); ++k) {
    T v = in[k][i];
    switch (op) {
      case ReduceOp::sum: case ReduceOp::avg: acc += static_cast<U>(v); break;
      case ReduceOp::prod: acc *= static_cast<U>(v); break;
      case ReduceOp::min: best = v < best ? v : best; break;
      case ReduceOp::max: best = v > best ? v : best; break;
    }
  }
  if (op == ReduceOp::min || op == ReduceOp::max) return best;
  return static_cast<T>(static_cast<U>(acc));
}

// splitmix64: a fast, good-enough generator (the tests draw ~10^8 numbers).
struct Rng {
  using result_type = uint64_t;
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return ~uint64_t{0}; }
  uint64_t operator()() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>((*this)() >> 11) * 0x1p-53;
  }
};

// Random inputs that keep float results finite and meaningful for `op`, with
// NaN, +-Inf and +-0 sprinkled in when `specials` is set. Integers use all bits
// (so sum and prod wrap).
template <class Tag>
void fill_random(std::vector<Storage<Tag>>& out, ReduceOp op, Rng& rng, bool specials) {
  using S = Storage<Tag>;
  if constexpr (std::is_integral_v<Tag>) {
    for (auto& v : out) v = static_cast<S>(rng());
  } else {
    const double kSpecials[] = {std::numeric_limits<double>::quiet_NaN(),
                                std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity(), 0.0, -0.0};
    for (auto& v : out) {
      uint64_t bits = rng();
      double x;
      if (specials && bits % 64 == 0) x = kSpecials[(bits >> 8) % 5];
      else if (op == ReduceOp::prod) x = (bits & 64 ? 1 : -1) * rng.uniform(0.5, 2.0);
      else if (op == ReduceOp::min || op == ReduceOp::max) x = rng.uniform(-1e3, 1e3);
      else x = rng.uniform(-100.0, 100.0);
      if constexpr (kIsHalf<Tag>) v = narrow<Tag>(static_cast<float>(x));
      else v = static_cast<S>(x);
    }
  }
}

// Inputs fused in one pass by reduce_many; f16/bf16 results are rounded
// between passes (documented in weft/reduce.h).
inline constexpr size_t kFusedInputs = 8;

// Checks `got` against the reference at element i. On a mismatch returns false
// and, if `why` is given, describes it.
template <class Tag>
bool check_element(ReduceOp op, const std::vector<const Storage<Tag>*>& in, size_t i,
                   Storage<Tag> got, std::string* why = nullptr) {
  using S = Storage<Tag>;
  auto mismatch = [&](auto expected, const char* rule) {
    if (why)
      *why = "element " + std::to_string(i) + ": got " + std::to_string(+got) + ", expected " +
             std::to_string(+expected) + " (" + rule + ")";
    return false;
  };
  if constexpr (std::is_integral_v<Tag>) {
    S expected = integer_fold<Tag>(op, in, i);
    return got == expected || mismatch(expected, "exact");
  } else if constexpr (kIsHalf<Tag>) {
    // f32 accumulation, one rounding per stored pass of up to 8 inputs.
    float acc = widen<Tag>(in[0][i]);
    for (size_t k = 1; k < in.size(); ++k) {
      if (k >= kFusedInputs && (k - kFusedInputs) % (kFusedInputs - 1) == 0)
        acc = widen<Tag>(narrow<Tag>(acc));
      acc = float_step(op, acc, widen<Tag>(in[k][i]));
    }
    S expected = narrow<Tag>(acc);
    if (std::isnan(acc)) return std::isnan(widen<Tag>(got)) || mismatch(expected, "NaN");
    return got == expected || mismatch(expected, "exact after f32 accumulation");
  } else {
    // Left to right in the element type: the documented order, bit for bit.
    Tag exact = in[0][i];
    double wide = in[0][i], magnitude = std::fabs(wide);
    for (size_t k = 1; k < in.size(); ++k) {
      exact = float_step<Tag>(op, exact, in[k][i]);
      wide = float_step<double>(op, wide, in[k][i]);
      magnitude += std::fabs(static_cast<double>(in[k][i]));
    }
    if (std::isnan(exact)) return std::isnan(got) || mismatch(exact, "NaN");
    if (std::memcmp(&got, &exact, sizeof got) != 0) return mismatch(exact, "left-to-right fold");
    // And against the float64 reference: recursive summation / products of n
    // terms are within (n - 1) * eps * (sum |x| or |result|) (Higham, ch. 3/4);
    // for n == 2 in f32 the result is the exactly rounded double result (double
    // has more than 2 * 24 + 2 bits, so rounding twice is harmless).
    if (std::isinf(wide) || op == ReduceOp::min || op == ReduceOp::max)
      return static_cast<double>(got) == wide || mismatch(wide, "float64 reference");
    double scale = op == ReduceOp::prod ? std::fabs(wide) : magnitude;
    double tolerance = static_cast<double>(in.size() - 1) *
                       std::numeric_limits<Tag>::epsilon() * scale;
    if (std::is_same_v<Tag, float> && in.size() == 2) {
      tolerance = 0;
      wide = static_cast<float>(wide);
    }
    return std::fabs(static_cast<double>(got) - wide) <= tolerance ||
           mismatch(wide, "float64 reference beyond tolerance");
  }
}

}  // namespace weft::test
