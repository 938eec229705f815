// weft::cuda::alloc / free: shareable device memory from the cuMem API.
#include <cuda.h>
#include <cuda_runtime_api.h>

#include "cuda/check.h"
#include "weft/cuda.h"

namespace weft::cuda {
namespace {

CUmemAllocationProp device_prop(int device) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  return prop;
}

int current_device() {
  int device = -1;
  WEFT_CUDART("cuda::alloc", cudaGetDevice, &device);
  // Makes the device's primary context current on this thread (the driver
  // calls below need one); a no-op when it already is.
  WEFT_CUDART(str("cuda::alloc on device ", device), cudaSetDevice, device);
  return device;
}

}  // namespace

size_t allocation_granularity(int device) {
  CUmemAllocationProp prop = device_prop(device);
  size_t granularity = 0;
  WEFT_CU(str("granularity of device ", device), cuMemGetAllocationGranularity, &granularity, &prop,
          CU_MEM_ALLOC_GRANULARITY_RECOMMENDED);
  return granularity;
}

void* alloc(size_t bytes) {
  WEFT_REQUIRE(bytes > 0, "cuda::alloc: zero bytes");
  const int device = current_device();
  const size_t granularity = allocation_granularity(device);
  WEFT_REQUIRE(bytes <= SIZE_MAX - granularity, "cuda::alloc: ", bytes, " bytes is too large");
  const size_t size = (bytes + granularity - 1) / granularity * granularity;
  const auto context = [&] { return str("cuda::alloc(", bytes, " bytes -> ", size, ") on device ", device); };
  CUmemAllocationProp prop = device_prop(device);

  CUmemGenericAllocationHandle handle{};
  WEFT_CU(context(), cuMemCreate, &handle, size, &prop, 0);
  CUdeviceptr ptr = 0;
  bool reserved = false;
  bool mapped = false;
  try {
    WEFT_CU(context(), cuMemAddressReserve, &ptr, size, granularity, 0, 0);
    reserved = true;
    WEFT_CU(context(), cuMemMap, ptr, size, 0, handle, 0);
    mapped = true;
    CUmemAccessDesc access{};
    access.location = prop.location;
    access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    WEFT_CU(context(), cuMemSetAccess, ptr, size, &access, 1);
  } catch (...) {
    if (mapped) driver().cuMemUnmap(ptr, size);
    if (reserved) driver().cuMemAddressFree(ptr, size);
    driver().cuMemRelease(handle);
    throw;
  }
  // The mapping holds the memory from now on; free() unmaps it, which frees
  // it. Exporting later retains a new handle (cuMemRetainAllocationHandle).
  WEFT_CU(context(), cuMemRelease, handle);
  return reinterpret_cast<void*>(ptr);
}

void free(void* ptr) {
  if (ptr == nullptr) return;
  CUdeviceptr base = 0;
  size_t size = 0;
  const auto context = [&] { return str("cuda::free(", ptr, ")"); };
  WEFT_CU(context(), cuMemGetAddressRange, &base, &size, reinterpret_cast<CUdeviceptr>(ptr));
  WEFT_REQUIRE(base == reinterpret_cast<CUdeviceptr>(ptr), "cuda::free(", ptr,
               "): not the start of an allocation (it starts at ", reinterpret_cast<void*>(base), ")");
  // Only cuMem memory can be unmapped this way; cudaMalloc memory cannot
  // retain a generic allocation handle.
  CUmemGenericAllocationHandle handle{};
  CUresult rc = driver().cuMemRetainAllocationHandle(&handle, ptr);
  WEFT_REQUIRE(rc == CUDA_SUCCESS, "cuda::free(", ptr, "): not memory from weft::cuda::alloc");
  WEFT_CU(context(), cuMemRelease, handle);
  WEFT_CUDART(context(), cudaDeviceSynchronize);
  WEFT_CU(context(), cuMemUnmap, base, size);
  WEFT_CU(context(), cuMemAddressFree, base, size);
}

}  // namespace weft::cuda
