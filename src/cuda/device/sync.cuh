// Cross-GPU signalling over peer-mapped memory: release stores, acquire loads
// and the per-block barrier every GPU collective is built on.
//
// Memory-model pattern (PTX ISA, "release and acquire patterns"):
//   writer block: all threads write data -> __syncthreads() -> one thread
//                 fences at system scope and st.release.sys's the flag
//   reader block: one thread ld.acquire.sys's the flag until it reaches the
//                 epoch -> __syncthreads() -> all threads read the data
// bar.sync makes the other threads' writes (reads) part of the signalling
// thread's causality order, so one signalling thread per block suffices.
#pragma once

#include <cstdint>

namespace weft::gpu::device {

__device__ __forceinline__ void st_release_sys(uint64_t* addr, uint64_t value) {
  asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(addr), "l"(value) : "memory");
}

__device__ __forceinline__ uint64_t ld_acquire_sys(const uint64_t* addr) {
  uint64_t value;
  asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(value) : "l"(addr) : "memory");
  return value;
}

// Host-mapped word the host sets to make every waiting kernel give up (a
// peer died, a timeout passed, abort()). Read with a volatile load: it lives
// in pinned host memory, written by a CPU thread.
__device__ __forceinline__ bool abort_requested(const volatile int* abort_flag) {
  return *abort_flag != 0;
}

// Spins until *flag >= epoch. Polls the abort word every 1024 spins so a
// kernel whose peer vanished returns instead of hanging the GPU forever.
// Returns false when aborted.
__device__ __forceinline__ bool wait_flag(const uint64_t* flag, uint64_t epoch,
                                          const volatile int* abort_flag) {
  uint32_t spins = 0;
  while (ld_acquire_sys(flag) < epoch) {
    if ((++spins & 1023u) == 0 && abort_requested(abort_flag)) return false;
  }
  return true;
}

}  // namespace weft::gpu::device
