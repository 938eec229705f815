#include "cuda/export.h"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <cstring>

#include "cuda/check.h"
#include "weft/log.h"

namespace weft::cuda {

ExportedBuffer export_buffer(const void* ptr) {
  const auto context = [&] { return str("export of device buffer ", ptr); };
  WEFT_REQUIRE(ptr != nullptr, "export of a null device buffer");
  ExportedBuffer out;
  CUdeviceptr base = 0;
  size_t size = 0;
  WEFT_CU(context(), cuMemGetAddressRange, &base, &size, reinterpret_cast<CUdeviceptr>(ptr));
  out.base = static_cast<uintptr_t>(base);
  out.size = size;
  out.offset = reinterpret_cast<uintptr_t>(ptr) - out.base;

  CUmemGenericAllocationHandle handle{};
  if (driver().cuMemRetainAllocationHandle(&handle, reinterpret_cast<void*>(base)) == CUDA_SUCCESS) {
    // cuMem memory: export the physical allocation as a file descriptor.
    int fd = -1;
    CUresult rc = driver().cuMemExportToShareableHandle(&fd, handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0);
    driver().cuMemRelease(handle);  // drops only the reference retain added
    if (rc != CUDA_SUCCESS) {
      const char* name = nullptr;
      driver().cuGetErrorName(rc, &name);
      throw_error(ErrorCode::Unsupported,
                  str(context(), ": cuMem allocation was not created with the POSIX file descriptor "
                      "handle type (cuMemExportToShareableHandle: ", name ? name : "?",
                      "); allocate it with weft::cuda::alloc"));
    }
    out.kind = ipc::HandleKind::PosixFd;
    out.fd.reset(fd);
    return out;
  }

  // Not cuMem memory: legacy CUDA IPC if the allocation allows it.
  int legacy_capable = 0;
  WEFT_CU(context(), cuPointerGetAttribute, &legacy_capable,
          CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE, base);
  if (!legacy_capable)
    throw_error(ErrorCode::Unsupported,
                str(context(), ": memory is neither a cuMem allocation nor legacy-IPC capable"));
  cudaIpcMemHandle_t h;
  static_assert(sizeof(h) == ipc::kLegacyHandleBytes);
  WEFT_CUDART(context(), cudaIpcGetMemHandle, &h, reinterpret_cast<void*>(base));
  out.kind = ipc::HandleKind::CudaLegacyIpc;
  std::memcpy(out.legacy.data(), &h, sizeof(h));
  WEFT_TRACE("cuda", "export of ", ptr, ": cudaMalloc memory, legacy IPC (base ",
             reinterpret_cast<void*>(base), " + ", out.offset, ")");
  return out;
}

}  // namespace weft::cuda
