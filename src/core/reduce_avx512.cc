// The AVX-512 reduction kernels: compiled with -mavx512f -mavx512bw -mavx512dq
// -mavx512vl -mf16c (src/core/CMakeLists.txt), run only where cpu_isa.cc found them.
#define WEFT_KERNEL_ISA avx512
// g++ 12's AVX-512 intrinsics start from _mm512_undefined_*() (`__m512 __Y = __Y;`),
// which -Wmaybe-uninitialized reports once inlined; a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "core/reduce_kernels.h"

namespace weft::detail {

const KernelTable& avx512_kernels() {
  static const KernelTable table = avx512::make_table(CpuIsa::avx512);
  return table;
}

}  // namespace weft::detail
