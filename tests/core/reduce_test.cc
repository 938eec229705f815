// The reduction kernels against the scalar reference in reduce_reference.h, at
// every instruction-set level this CPU can run (the others are reported as
// skipped): every dtype x op, odd lengths around the kernels' block sizes,
// unaligned pointers, aliasing, reduce_many with 1..17 inputs, avg scaling.
#include "weft/reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_isa.h"
#include "reduce_reference.h"

namespace weft {
namespace {

using test::Storage;

// Lengths around the 256-byte block (1..256 elements per block by dtype) and vector widths.
constexpr size_t kSmallLengths[] = {0, 1, 7, 15, 31, 32, 33, 63, 64, 65, 127, 129, 255, 256, 257, 1000};
constexpr size_t kLargeLength = 1000003;

// A buffer whose data starts `offset` bytes past a 64-byte boundary.
template <class S>
struct Placed {
  std::vector<unsigned char> raw;
  S* data;
  Placed(size_t count, size_t offset) : raw(count * sizeof(S) + offset + 128) {
    auto base = reinterpret_cast<uintptr_t>(raw.data());
    data = reinterpret_cast<S*>(((base + 63) & ~uintptr_t{63}) + offset);
  }
  void assign(const std::vector<S>& values) {
    if (!values.empty()) std::memcpy(data, values.data(), values.size() * sizeof(S));
  }
};

// Byte offsets from a 64-byte boundary that keep elements naturally aligned:
// multiples of the element size, most of them not multiples of any vector width.
std::vector<size_t> offsets_for(size_t elem) {
  std::vector<size_t> offsets;
  for (size_t off = 0; off < 64; off += elem) offsets.push_back(off);
  return offsets;
}

class ReduceIsa : public ::testing::TestWithParam<CpuIsa> {
 protected:
  void SetUp() override {
    auto supported = detail::supported_cpu_isas();
    if (std::find(supported.begin(), supported.end(), GetParam()) == supported.end())
      GTEST_SKIP() << "this CPU (or build) cannot run the " << to_string(GetParam()) << " kernels";
    detail::set_cpu_isa_for_testing(GetParam());
    ASSERT_EQ(reduce_cpu_isa(), GetParam());
  }
  void TearDown() override {
    detail::set_cpu_isa_for_testing(detail::supported_cpu_isas().back());
  }
};

// Runs reduce_many on `n_inputs` random inputs placed at the given offsets and
// checks every element. out_alias >= 0 makes the output that input's buffer.
template <class Tag>
::testing::AssertionResult run_case(DataType type, ReduceOp op, size_t count, int n_inputs,
                                    size_t offset, int out_alias, test::Rng& rng) {
  using S = Storage<Tag>;
  std::vector<std::vector<S>> values(n_inputs, std::vector<S>(count));
  std::vector<Placed<S>> buffers;
  buffers.reserve(n_inputs);
  for (int k = 0; k < n_inputs; ++k) {
    test::fill_random<Tag>(values[k], op, rng, /*specials=*/true);
    // Ties for min/max: copy some elements of input 0 into the others.
    if (k > 0 && (op == ReduceOp::min || op == ReduceOp::max))
      for (size_t i = 0; i < count; i += 5) values[k][i] = values[0][i];
    // Inputs start at different offsets from each other and from the output.
    size_t off = (offset + static_cast<size_t>(k) * 3 * sizeof(S)) % 64 / sizeof(S) * sizeof(S);
    buffers.emplace_back(count, off);
    buffers.back().assign(values[k]);
  }
  Placed<S> separate(count, (offset + 2 * sizeof(S)) % 64 / sizeof(S) * sizeof(S));
  S* out = out_alias >= 0 ? buffers[out_alias].data : separate.data;
  std::vector<const void*> inputs;
  for (auto& b : buffers) inputs.push_back(b.data);
  if (n_inputs == 2 && out_alias == 0)
    reduce_inplace(out, inputs[1], count, type, op);
  else if (n_inputs == 2)
    reduce(out, inputs[0], inputs[1], count, type, op);
  else
    reduce_many(out, inputs.data(), n_inputs, count, type, op);

  std::vector<const S*> refs;
  for (auto& v : values) refs.push_back(v.data());
  for (size_t i = 0; i < count; ++i) {
    std::string problem;
    if (!test::check_element<Tag>(op, refs, i, out[i], &problem))
      return ::testing::AssertionFailure()
             << to_string(type) << " " << to_string(op) << " count " << count << " inputs "
             << n_inputs << " offset " << offset << " alias " << out_alias << ": " << problem;
  }
  return ::testing::AssertionSuccess();
}

template <class F>
void for_all_types_and_ops(F&& f) {
  for (DataType type : kAllDataTypes)
    for (ReduceOp op : kAllReduceOps) f(type, op);
}

TEST_P(ReduceIsa, PairsEveryTypeOpLengthAndOffset) {
  test::Rng rng(1);
  for_all_types_and_ops([&](DataType type, ReduceOp op) {
    test::visit_type(type, [&]<class Tag>() {
      for (size_t count : kSmallLengths)
        for (size_t offset : offsets_for(size_of(type)))
          ASSERT_TRUE(run_case<Tag>(type, op, count, 2, offset, -1, rng));
    });
  });
}

// Many blocks plus an odd tail. avg runs the sum kernel (checked at small
// lengths), and in place is checked with sum only, to keep the suite fast.
TEST_P(ReduceIsa, LargeOddLengthOutOfPlaceAndInPlace) {
  test::Rng rng(2);
  for (DataType type : kAllDataTypes) {
    test::visit_type(type, [&]<class Tag>() {
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::prod, ReduceOp::min, ReduceOp::max})
        ASSERT_TRUE(run_case<Tag>(type, op, kLargeLength, 2, size_of(type), -1, rng));
      ASSERT_TRUE(run_case<Tag>(type, ReduceOp::sum, kLargeLength, 2, 0, 0, rng));
    });
  }
}

TEST_P(ReduceIsa, OutputAliasesEitherInput) {
  test::Rng rng(3);
  for_all_types_and_ops([&](DataType type, ReduceOp op) {
    test::visit_type(type, [&]<class Tag>() {
      for (size_t count : {size_t{33}, size_t{1000}})
        for (int alias : {0, 1}) ASSERT_TRUE(run_case<Tag>(type, op, count, 2, 8, alias, rng));
    });
  });
}

TEST_P(ReduceIsa, ManyInputsOnePassAndMultiPass) {
  test::Rng rng(4);
  for_all_types_and_ops([&](DataType type, ReduceOp op) {
    test::visit_type(type, [&]<class Tag>() {
      for (int n = 1; n <= 17; ++n)
        for (size_t count : {size_t{7}, size_t{65}, size_t{1027}}) {
          ASSERT_TRUE(run_case<Tag>(type, op, count, n, size_of(type) * n % 64, -1, rng));
          // The output may be any input of the first fused pass.
          int alias = (n - 1) % 8;
          ASSERT_TRUE(run_case<Tag>(type, op, count, n, 0, alias, rng));
        }
    });
  });
}

// avg = sum, then scale_for_average: floats divide, integers truncate toward zero.
TEST_P(ReduceIsa, ScaleForAverage) {
  test::Rng rng(5);
  for (DataType type : kAllDataTypes) {
    test::visit_type(type, [&]<class Tag>() {
      using S = Storage<Tag>;
      for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{33}, size_t{1000}, size_t{4099}})
        for (int contributions : {1, 2, 3, 7, 8, 1000}) {
          std::vector<S> values(count);
          test::fill_random<Tag>(values, ReduceOp::sum, rng, /*specials=*/true);
          Placed<S> buffer(count, size_of(type));
          buffer.assign(values);
          scale_for_average(buffer.data, count, type, contributions);
          for (size_t i = 0; i < count; ++i) {
            S expected;
            if constexpr (std::is_integral_v<Tag>) {
              using Wide = std::common_type_t<S, int>;  // C++ '/': truncates toward zero
              expected = static_cast<S>(static_cast<Wide>(values[i]) / static_cast<Wide>(contributions));
            }
            else if constexpr (test::kIsHalf<Tag>)
              expected = test::narrow<Tag>(test::widen<Tag>(values[i]) / static_cast<float>(contributions));
            else  // correctly rounded: double has enough bits for float division too
              expected = static_cast<S>(static_cast<double>(values[i]) / contributions);
            bool nan = false;
            if constexpr (!std::is_integral_v<Tag>) {
              if constexpr (test::kIsHalf<Tag>) nan = std::isnan(test::widen<Tag>(expected));
              else nan = std::isnan(expected);
            }
            if (nan) {  // NaN stays NaN (its payload is not specified)
              float got;
              if constexpr (test::kIsHalf<Tag>) got = test::widen<Tag>(buffer.data[i]);
              else got = static_cast<float>(buffer.data[i]);
              ASSERT_TRUE(std::isnan(got)) << to_string(type) << " element " << i;
              continue;
            }
            ASSERT_EQ(std::memcmp(&buffer.data[i], &expected, sizeof(S)), 0)
                << to_string(type) << " count " << count << " / " << contributions
                << " element " << i << ": got " << +buffer.data[i] << " expected " << +expected;
          }
        }
    });
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, ReduceIsa,
                         ::testing::Values(CpuIsa::portable, CpuIsa::avx2, CpuIsa::avx512),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace weft
