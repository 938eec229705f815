// The pause a spin-wait makes between two looks at what it waits for: on x86
// it yields the core's pipeline to the sibling hyperthread and keeps the
// loop from flooding the memory system with speculative loads.
#pragma once

namespace weft {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace weft
