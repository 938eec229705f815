// The table of reduction kernels one instruction-set level provides.
//
// reduce_kernels.h is compiled once per level (reduce_portable.cc,
// reduce_avx2.cc, reduce_avx512.cc, each with its own -m flags); each of those
// translation units fills one KernelTable. reduce.cc validates arguments and
// calls through the table of the level chosen in cpu_isa.cc.
#pragma once

#include <cstddef>

#include "weft/dtype.h"
#include "weft/reduce.h"

namespace weft::detail {

// Inputs combined in one fused pass; reduce_many loops over passes above this.
inline constexpr int kMaxFusedInputs = 8;
inline constexpr int kNumDataTypes = 10;  // DataType values
inline constexpr int kNumKernelOps = 4;   // sum, prod, min, max (avg runs as sum)

// out = inputs[0] op ... op inputs[N-1] for the N the entry was built for.
using ReduceManyFn = void (*)(void* out, const void* const* inputs, size_t count);
// inout /= contributions
using ScaleFn = void (*)(void* inout, size_t count, int contributions);

struct KernelTable {
  CpuIsa isa;
  // [dtype][op][n_inputs - 2], n_inputs in 2..kMaxFusedInputs
  ReduceManyFn many[kNumDataTypes][kNumKernelOps][kMaxFusedInputs - 1];
  ScaleFn scale[kNumDataTypes];
};

const KernelTable& portable_kernels();
#if WEFT_X86_KERNELS
const KernelTable& avx2_kernels();    // AVX2 + F16C
const KernelTable& avx512_kernels();  // AVX-512 F/BW/DQ/VL + F16C
#endif

}  // namespace weft::detail
