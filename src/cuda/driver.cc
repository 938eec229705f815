#include "cuda/driver.h"

#include <cuda_runtime_api.h>

#include "cuda/check.h"

namespace weft::cuda {
namespace {

// The driver ABI we ask for: entry points as they were in CUDA 12.0.
constexpr unsigned kDriverAbi = 12000;

template <typename Fn>
void load(Fn& fn, const char* symbol) {
  void* p = nullptr;
  cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
  cudaError_t err = cudaGetDriverEntryPointByVersion(symbol, &p, kDriverAbi, cudaEnableDefault, &status);
  if (err != cudaSuccess)
    throw_error(ErrorCode::CudaError,
                str("loading CUDA driver entry point ", symbol, ": cudaGetDriverEntryPointByVersion failed: ",
                    cudaGetErrorName(err), ": ", cudaGetErrorString(err)));
  if (status != cudaDriverEntryPointSuccess || p == nullptr)
    throw_error(ErrorCode::CudaError,
                str("CUDA driver entry point ", symbol, " not available (",
                    status == cudaDriverEntryPointVersionNotSufficent ? "driver too old" : "symbol not found",
                    ")"));
  fn = reinterpret_cast<Fn>(p);
}

Driver load_all() {
  Driver d;
#define WEFT_LOAD(name) load(d.name, #name);
  WEFT_LOAD(cuGetErrorName)
  WEFT_LOAD(cuGetErrorString)
  WEFT_LOAD(cuMemCreate)
  WEFT_LOAD(cuMemRelease)
  WEFT_LOAD(cuMemAddressReserve)
  WEFT_LOAD(cuMemAddressFree)
  WEFT_LOAD(cuMemMap)
  WEFT_LOAD(cuMemUnmap)
  WEFT_LOAD(cuMemSetAccess)
  WEFT_LOAD(cuMemGetAllocationGranularity)
  WEFT_LOAD(cuMemGetAddressRange)
  WEFT_LOAD(cuMemRetainAllocationHandle)
  WEFT_LOAD(cuMemExportToShareableHandle)
  WEFT_LOAD(cuMemImportFromShareableHandle)
  WEFT_LOAD(cuPointerGetAttribute)
#undef WEFT_LOAD
  return d;
}

}  // namespace

const Driver& driver() {
  // A static whose initializer throws stays uninitialized, so a failed load
  // is retried (and reported) on the next use instead of leaving a half table.
  static const Driver table = load_all();
  return table;
}

void throw_driver_error(CUresult result, const char* call, const std::string& context) {
  const char* name = nullptr;
  const char* text = nullptr;
  const Driver& d = driver();
  if (d.cuGetErrorName(result, &name) != CUDA_SUCCESS) name = nullptr;
  if (d.cuGetErrorString(result, &text) != CUDA_SUCCESS) text = nullptr;
  std::string prefix = context.empty() ? std::string() : context + ": ";
  throw_error(ErrorCode::CudaError,
              str(prefix, call, " failed: ", name ? name : "CUDA_ERROR_?", ": ",
                  text ? text : str("error ", static_cast<int>(result))));
}

void throw_runtime_error(cudaError_t err, const char* call, const std::string& context) {
  std::string prefix = context.empty() ? std::string() : context + ": ";
  throw_error(ErrorCode::CudaError, str(prefix, call, " failed: ", cudaGetErrorName(err), ": ",
                                        cudaGetErrorString(err)));
}

}  // namespace weft::cuda
