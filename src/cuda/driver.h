// The CUDA driver API, loaded at run time through the runtime.
//
// Why not link libcuda: libcuda.so ships with the driver, not the toolkit.
// Linking it (even against the toolkit's link-time libcuda) makes libweft fail to LOAD on
// a machine without a driver, which breaks the CPU-only uses of a CUDA build
// (weft-info, host-memory collectives, CI running the CPU tests of a CUDA
// build). cudaGetDriverEntryPointByVersion asks the runtime, which already
// found the driver, for each entry point at the ABI of CUDA 12.0; a missing
// driver becomes a CudaError when the GPU path is first used.
#pragma once

#include <cuda.h>

#include <functional>
#include <string>

#include "weft/error.h"

namespace weft::cuda {

struct Driver {
#define WEFT_CU_FN(name) decltype(&::name) name = nullptr;
  WEFT_CU_FN(cuGetErrorName)
  WEFT_CU_FN(cuGetErrorString)
  WEFT_CU_FN(cuMemCreate)
  WEFT_CU_FN(cuMemRelease)
  WEFT_CU_FN(cuMemAddressReserve)
  WEFT_CU_FN(cuMemAddressFree)
  WEFT_CU_FN(cuMemMap)
  WEFT_CU_FN(cuMemUnmap)
  WEFT_CU_FN(cuMemSetAccess)
  WEFT_CU_FN(cuMemGetAllocationGranularity)
  WEFT_CU_FN(cuMemGetAddressRange)
  WEFT_CU_FN(cuMemRetainAllocationHandle)
  WEFT_CU_FN(cuMemExportToShareableHandle)
  WEFT_CU_FN(cuMemImportFromShareableHandle)
  WEFT_CU_FN(cuPointerGetAttribute)
#undef WEFT_CU_FN
};

// The process's driver table, loaded on first use (thread-safe). Throws
// CudaError when the driver or an entry point is missing.
const Driver& driver();

// "<context>: <call> failed: <ERROR_NAME>: <description>"
[[noreturn]] void throw_driver_error(CUresult result, const char* call, const std::string& context);

}  // namespace weft::cuda
