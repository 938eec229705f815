// The public reduction entry points: argument checks, then one call through
// the kernel table of the instruction-set level in use (core/cpu_isa.h).
#include "weft/reduce.h"

#include <cstdint>
#include <cstring>

#include "core/cpu_isa.h"
#include "weft/error.h"

namespace weft {
namespace {

using detail::kMaxFusedInputs;

int type_index(DataType type, const char* what) {
  int index = static_cast<int>(type);
  WEFT_REQUIRE(index >= 0 && index < detail::kNumDataTypes, what, ": invalid DataType value ",
               index);
  return index;
}

// avg reduces as sum; its division is scale_for_average().
int op_index(ReduceOp op, const char* what) {
  int index = static_cast<int>(op);
  WEFT_REQUIRE(index >= 0 && index <= static_cast<int>(ReduceOp::avg), what,
               ": invalid ReduceOp value ", index);
  return op == ReduceOp::avg ? static_cast<int>(ReduceOp::sum) : index;
}

// The output may be an input (same address) or disjoint from it; a partial
// overlap would make the result depend on the kernel's traversal order.
void check_overlap(const void* out, const void* in, size_t bytes, const char* what, int input) {
  auto o = reinterpret_cast<uintptr_t>(out);
  auto i = reinterpret_cast<uintptr_t>(in);
  WEFT_REQUIRE(o == i || o + bytes <= i || i + bytes <= o, what, ": output partially overlaps input ",
               input, " (it may only be the same buffer or disjoint)");
}

void check_pointer(const void* p, const char* what, const char* name) {
  WEFT_REQUIRE(p != nullptr, what, ": ", name, " is null");
}

}  // namespace

void reduce(void* out, const void* a, const void* b, size_t count, DataType type, ReduceOp op) {
  const void* inputs[2] = {a, b};
  reduce_many(out, inputs, 2, count, type, op);
}

void reduce_inplace(void* inout, const void* in, size_t count, DataType type, ReduceOp op) {
  const void* inputs[2] = {inout, in};
  reduce_many(inout, inputs, 2, count, type, op);
}

void reduce_many(void* out, const void* const* inputs, int n_inputs, size_t count, DataType type,
                 ReduceOp op) {
  constexpr const char* what = "reduce";
  int t = type_index(type, what);
  int o = op_index(op, what);
  WEFT_REQUIRE(n_inputs >= 1, what, ": n_inputs must be >= 1, got ", n_inputs);
  if (count == 0) return;
  check_pointer(out, what, "output");
  check_pointer(inputs, what, "inputs array");
  size_t bytes = count * size_of(type);
  for (int k = 0; k < n_inputs; ++k) {
    check_pointer(inputs[k], what, "an input");
    check_overlap(out, inputs[k], bytes, what, k);
    // Inputs past the first pass must not be the output: it is overwritten first.
    WEFT_REQUIRE(k < kMaxFusedInputs || inputs[k] != out, what, ": with more than ",
                 kMaxFusedInputs, " inputs the output may only alias one of the first ",
                 kMaxFusedInputs, " (it is input ", k, ")");
  }
  if (n_inputs == 1) {
    if (out != inputs[0]) std::memcpy(out, inputs[0], bytes);
    return;
  }
  const auto& fns = detail::active_kernels().many[t][o];
  int first = n_inputs < kMaxFusedInputs ? n_inputs : kMaxFusedInputs;
  fns[first - 2](out, inputs, count);
  // Further passes fold up to kMaxFusedInputs - 1 more inputs into out each.
  const void* group[kMaxFusedInputs];
  group[0] = out;
  for (int next = first; next < n_inputs;) {
    int take = n_inputs - next < kMaxFusedInputs - 1 ? n_inputs - next : kMaxFusedInputs - 1;
    for (int k = 0; k < take; ++k) group[k + 1] = inputs[next + k];
    fns[take - 1](out, group, count);
    next += take;
  }
}

void scale_for_average(void* inout, size_t count, DataType type, int contributions) {
  constexpr const char* what = "scale_for_average";
  int t = type_index(type, what);
  WEFT_REQUIRE(contributions >= 1, what, ": contributions must be >= 1, got ", contributions);
  if (count == 0 || contributions == 1) return;
  check_pointer(inout, what, "buffer");
  detail::active_kernels().scale[t](inout, count, contributions);
}

}  // namespace weft
