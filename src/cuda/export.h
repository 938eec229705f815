// Exporting a device buffer so that a peer process can map it.
//
// The seed's flow (NCCL's ipcRegisterBuffer): find the allocation that holds
// the buffer (cuMemGetAddressRange), retain its cuMem handle and export it as
// a POSIX file descriptor; the peer imports the whole allocation and adds the
// buffer's offset. When the handle cannot be retained, the memory came from
// plain cudaMalloc: fall back to legacy CUDA IPC (cudaIpcGetMemHandle on the
// allocation base, plus the offset).
#pragma once

#include <cstdint>

#include "ipc/mapper.h"
#include "ipc/registration_client.h"

namespace weft::cuda {

struct ExportedBuffer {
  ipc::HandleKind kind = ipc::HandleKind::PosixFd;
  net::Fd fd;          // PosixFd: close it once the peers have imported it
  uintptr_t base = 0;        // the allocation's first byte
  uint64_t size = 0;         // the allocation's size
  uint64_t offset = 0;       // the exported pointer's offset into the allocation
  ipc::LegacyHandle legacy{};

  // What a RegistrationClient sends (borrows fd).
  ipc::ExportDesc desc() const {
    return ipc::ExportDesc{kind, fd.get(), size, offset, legacy};
  }
};

// Exports the allocation containing `ptr` (device memory of the current
// device). Throws Unsupported for memory that neither path can share, and
// CudaError when CUDA fails.
ExportedBuffer export_buffer(const void* ptr);

}  // namespace weft::cuda
