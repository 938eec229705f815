// The AVX2 reduction kernels: compiled with -mavx2 -mf16c (src/core/CMakeLists.txt),
// run only where cpu_isa.cc found both.
#define WEFT_KERNEL_ISA avx2
#include "core/reduce_kernels.h"

namespace weft::detail {

const KernelTable& avx2_kernels() {
  static const KernelTable table = avx2::make_table(CpuIsa::avx2);
  return table;
}

}  // namespace weft::detail
