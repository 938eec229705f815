// CudaMapper: the registration service's Mapper for device memory.
//
// PosixFd (cuMem):  cuMemImportFromShareableHandle -> cuMemAddressReserve ->
//                   cuMemMap -> cuMemSetAccess(this device, read-write);
//                   unmap = cuMemUnmap + cuMemAddressFree + cuMemRelease.
// CudaLegacyIpc:    cudaIpcOpenMemHandle (lazy peer access);
//                   unmap = cudaIpcCloseMemHandle.
#pragma once

#include <cuda.h>

#include <mutex>
#include <unordered_map>

#include "ipc/mapper.h"

namespace weft::cuda {

class CudaMapper final : public ipc::Mapper {
 public:
  explicit CudaMapper(int device) : device_(device) {}
  ~CudaMapper() override = default;

  const char* name() const override { return "cuda"; }
  void* map(ipc::ImportSpec spec) override;
  void unmap(void* base, uint64_t size, ipc::HandleKind kind) override;

 private:
  int device_;
  std::mutex mu_;
  // Imported cuMem handles by mapped base address, released at unmap.
  std::unordered_map<uintptr_t, CUmemGenericAllocationHandle> handles_;
};

}  // namespace weft::cuda
