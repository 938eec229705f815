// Programmatic dependent launch (Hopper and later).
//
// A kernel launched with programmatic stream serialization may start while
// the kernel before it on the stream is still finishing: the launch, block
// scheduling and the prologue overlap the previous kernel's tail instead of
// following it. The price is that such a kernel must call
// wait_for_previous_grid() before it touches memory the previous kernel may
// write or read; from there on it sees everything the previous grid did, as
// after an ordinary stream dependency. A kernel that calls
// allow_next_grid() lets a dependent launched after it start early the same
// way. On a launch without the attribute both are no-ops, so one kernel
// serves both launches, and CUDA graph capture keeps the dependency as a
// programmatic edge.
#pragma once

#include <cuda_runtime.h>

#include <utility>

namespace weft::cuda::device {

__device__ __forceinline__ void wait_for_previous_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void allow_next_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

}  // namespace weft::cuda::device

namespace weft::cuda {

// Launches `kernel` on `stream`, as a programmatic dependent of the stream's
// previous work when `dependent` is true (the kernel must then call
// wait_for_previous_grid() first).
template <typename... Params, typename... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream,
                          bool dependent, Args&&... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = 0;
  config.stream = stream;
  config.attrs = dependent ? &attribute : nullptr;
  config.numAttrs = dependent ? 1 : 0;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

}  // namespace weft::cuda
