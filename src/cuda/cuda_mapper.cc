#include "cuda/cuda_mapper.h"

#include <cuda_runtime_api.h>

#include <cstring>

#include "cuda/check.h"

namespace weft::cuda {

void* CudaMapper::map(ipc::ImportSpec spec) {
  const auto context = [&] {
    return str("cuda mapper: import of ", spec.size, " bytes (", ipc::to_string(spec.kind),
                ") on device ", device_);
  };
  WEFT_REQUIRE(spec.size > 0, "cuda mapper: zero-byte import");
  // The service thread needs this device's context current.
  WEFT_CUDART(context(), cudaSetDevice, device_);

  if (spec.kind == ipc::HandleKind::CudaLegacyIpc) {
    cudaIpcMemHandle_t h;
    static_assert(sizeof(h) == ipc::kLegacyHandleBytes);
    std::memcpy(&h, spec.legacy.data(), sizeof(h));
    void* p = nullptr;
    WEFT_CUDART(context(), cudaIpcOpenMemHandle, &p, h, cudaIpcMemLazyEnablePeerAccess);
    return p;
  }

  WEFT_REQUIRE(spec.fd, "cuda mapper: posix-fd import without a descriptor");
  CUmemGenericAllocationHandle handle{};
  WEFT_CU(context(), cuMemImportFromShareableHandle, &handle,
          reinterpret_cast<void*>(static_cast<uintptr_t>(spec.fd.get())),
          CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  spec.fd.reset();  // the imported handle keeps the memory; the fd is no longer needed
  CUdeviceptr ptr = 0;
  bool reserved = false;
  bool mapped = false;
  try {
    WEFT_CU(context(), cuMemAddressReserve, &ptr, spec.size, 0, 0, 0);
    reserved = true;
    WEFT_CU(context(), cuMemMap, ptr, spec.size, 0, handle, 0);
    mapped = true;
    CUmemAccessDesc access{};
    access.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    access.location.id = device_;
    access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    WEFT_CU(context(), cuMemSetAccess, ptr, spec.size, &access, 1);
  } catch (...) {
    if (mapped) driver().cuMemUnmap(ptr, spec.size);
    if (reserved) driver().cuMemAddressFree(ptr, spec.size);
    driver().cuMemRelease(handle);
    throw;
  }
  std::lock_guard lock(mu_);
  handles_[static_cast<uintptr_t>(ptr)] = handle;
  return reinterpret_cast<void*>(ptr);
}

void CudaMapper::unmap(void* base, uint64_t size, ipc::HandleKind kind) {
  const auto context = [&] { return str("cuda mapper: unmap of ", base, " (", size, " bytes)"); };
  WEFT_CUDART(context(), cudaSetDevice, device_);
  if (kind == ipc::HandleKind::CudaLegacyIpc) {
    WEFT_CUDART(context(), cudaIpcCloseMemHandle, base);
    return;
  }
  CUmemGenericAllocationHandle handle{};
  {
    std::lock_guard lock(mu_);
    auto it = handles_.find(reinterpret_cast<uintptr_t>(base));
    WEFT_REQUIRE(it != handles_.end(), context(), ": not mapped by this mapper");
    handle = it->second;
    handles_.erase(it);
  }
  auto ptr = reinterpret_cast<CUdeviceptr>(base);
  WEFT_CU(context(), cuMemUnmap, ptr, size);
  WEFT_CU(context(), cuMemAddressFree, ptr, size);
  WEFT_CU(context(), cuMemRelease, handle);
}

}  // namespace weft::cuda
