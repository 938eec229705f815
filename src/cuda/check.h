// CUDA error checking: every failing runtime or driver call becomes
//   weft::Error(CudaError, "<context>: <call> failed: <name>: <description>")
//
//   WEFT_CU(str("alloc of ", n, " bytes"), cuMemCreate, &handle, n, &prop, 0);
//   WEFT_CUDART(str("device ", dev), cudaSetDevice, dev);
//
// The context is built only when the call fails.
#pragma once

#include <cuda_runtime_api.h>

#include "cuda/driver.h"
#include "weft/error.h"

namespace weft::cuda {

[[noreturn]] void throw_runtime_error(cudaError_t err, const char* call, const std::string& context);

}  // namespace weft::cuda

#define WEFT_CU(context, fn, ...)                                                   \
  do {                                                                              \
    CUresult weft_cu_result_ = ::weft::cuda::driver().fn(__VA_ARGS__);             \
    if (weft_cu_result_ != CUDA_SUCCESS)                                            \
      ::weft::cuda::throw_driver_error(weft_cu_result_, #fn, (context));            \
  } while (0)

#define WEFT_CUDART(context, fn, ...)                                               \
  do {                                                                              \
    cudaError_t weft_cudart_result_ = ::fn(__VA_ARGS__);                            \
    if (weft_cudart_result_ != cudaSuccess)                                         \
      ::weft::cuda::throw_runtime_error(weft_cudart_result_, #fn, (context));       \
  } while (0)
