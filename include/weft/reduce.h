// CPU reduction kernels: the element-wise arithmetic every host-memory
// collective runs (ring steps, shared-memory reduce-scatter, the final average).
//
// Semantics, for every DataType and ReduceOp:
//  - sum / prod on integers wrap around (two's complement), like unsigned
//    arithmetic; there is no undefined behaviour on overflow.
//  - f16 and bf16 are widened to f32 for the arithmetic and rounded once
//    (nearest-even) when the result is stored; reduce_many keeps the f32
//    accumulator across all of its inputs (up to 8 at a time, see below).
//  - min / max on floats propagate NaN (like torch.minimum/maximum): if either
//    operand is NaN the result is NaN. Otherwise, for equal operands (+0 and -0
//    included) the second operand is returned.
//  - ReduceOp::avg reduces as sum; the division by the number of contributions
//    is a separate, final step: scale_for_average().
//  - The output may alias an input exactly (same address); any other overlap
//    between output and inputs is rejected with InvalidArgument.
//  - count == 0 does nothing (pointers may then be null).
//
// The kernels are vectorized; the instruction set is chosen once at run time
// (AVX-512, AVX2 with F16C, or the portable build) and can be forced with
// WEFT_CPU_ISA=portable|avx2|avx512. Every level gives bit-identical results
// (NaN payloads aside: any NaN result is some NaN).
#pragma once

#include <cstddef>
#include <cstdint>

#include "weft/dtype.h"

namespace weft {

// inout[i] = inout[i] op in[i]
void reduce_inplace(void* inout, const void* in, size_t count, DataType type, ReduceOp op);

// out[i] = a[i] op b[i]; out may be a or b.
void reduce(void* out, const void* a, const void* b, size_t count, DataType type, ReduceOp op);

// out[i] = inputs[0][i] op inputs[1][i] op ... op inputs[n_inputs-1][i], applied
// left to right, in one pass that reads each input once (n_inputs >= 1). out may
// be one of the inputs. Above 8 inputs the work is done in passes of up to 8
// (the partial result is stored, and for f16/bf16 rounded, between passes).
void reduce_many(void* out, const void* const* inputs, int n_inputs, size_t count,
                 DataType type, ReduceOp op);

// The second half of ReduceOp::avg: inout[i] /= contributions (>= 1).
// Floats: true division (f16/bf16 computed in f32, rounded once).
// Integers: division truncating toward zero, like C++ '/' (-7 / 2 == -3).
void scale_for_average(void* inout, size_t count, DataType type, int contributions);

// The instruction-set level of the kernels in use.
enum class CpuIsa : uint8_t { portable, avx2, avx512 };
const char* to_string(CpuIsa isa) noexcept;
CpuIsa reduce_cpu_isa();

}  // namespace weft
