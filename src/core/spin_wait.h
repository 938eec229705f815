// What the spin-waits between a host's processes share (the shm collectives
// and the shm transport): the pause between two looks, and whether the
// processes that spin outnumber the CPUs, in which case the one waited for
// may need this core and a spin should be short.
#pragma once

#include <thread>

namespace weft {

// On x86, yields the core's pipeline to the sibling hyperthread and keeps
// the loop from flooding the memory system with speculative loads.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// More than one CPU's worth of `processes` on this machine.
inline bool outnumber_cpus(int processes) {
  return static_cast<unsigned>(processes) > std::thread::hardware_concurrency();
}

}  // namespace weft
