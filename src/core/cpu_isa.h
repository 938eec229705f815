// Which kernel instruction-set level this process uses, chosen once.
//
// The choice is the best level the CPU supports (checked with
// __builtin_cpu_supports), lowered by WEFT_CPU_ISA when set. Tests and
// benchmarks may switch levels at run time to compare them.
#pragma once

#include <vector>

#include "core/reduce_table.h"
#include "weft/reduce.h"

namespace weft::detail {

// Levels this build and this CPU can run, lowest (portable) first.
std::vector<CpuIsa> supported_cpu_isas();

// The kernels in use (first call applies WEFT_CPU_ISA).
const KernelTable& active_kernels();

// Switches the kernels for the whole process; Unsupported if this CPU or
// build cannot run `isa`. Not synchronized with kernels running concurrently
// on other threads beyond being a single atomic pointer swap.
void set_cpu_isa_for_testing(CpuIsa isa);

}  // namespace weft::detail
