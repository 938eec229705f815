// The portable reduction kernels: no -m flags, so the target's baseline (SSE2
// on x86-64); always available, and the only level on other architectures.
#define WEFT_KERNEL_ISA portable
#include "core/reduce_kernels.h"

namespace weft::detail {

const KernelTable& portable_kernels() {
  static const KernelTable table = portable::make_table(CpuIsa::portable);
  return table;
}

}  // namespace weft::detail
