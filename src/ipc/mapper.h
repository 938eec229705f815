// Mapper: how a registration service turns an exported buffer into an address
// in its own process. The service thread speaks the protocol; the Mapper does
// the memory work, so the protocol is tested on the CPU (CpuMapper: memfd/shm
// fd -> mmap) and reused unchanged on GPUs (cuda::CudaMapper: cuMem import ->
// reserve -> map -> set access, or legacy cudaIpcOpenMemHandle).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "net/fd.h"

namespace weft::ipc {

// How the exporter described its buffer.
enum class HandleKind : uint32_t {
  PosixFd = 1,        // a file descriptor travels with the request (memfd, cuMem POSIX fd)
  CudaLegacyIpc = 2,  // a 64-byte cudaIpcMemHandle_t travels in the payload
};
const char* to_string(HandleKind kind);

inline constexpr size_t kLegacyHandleBytes = 64;  // sizeof(cudaIpcMemHandle_t)
using LegacyHandle = std::array<uint8_t, kLegacyHandleBytes>;

struct ImportSpec {
  HandleKind kind = HandleKind::PosixFd;
  net::Fd fd;            // PosixFd: the received descriptor (the mapper may close it)
  uint64_t size = 0;      // bytes of the whole exported allocation
  LegacyHandle legacy{};  // CudaLegacyIpc
};

class Mapper {
 public:
  virtual ~Mapper() = default;
  virtual const char* name() const = 0;
  // Maps the whole allocation; returns the address of its first byte here.
  // Throws weft::Error (InvalidArgument, SystemError, CudaError, Unsupported).
  virtual void* map(ImportSpec spec) = 0;
  // Undoes map(). `base` and `size` are what map() got and returned.
  virtual void unmap(void* base, uint64_t size, HandleKind kind) = 0;
};

// memfd / POSIX shm descriptors, mmap(MAP_SHARED). Legacy CUDA handles are Unsupported.
class CpuMapper final : public Mapper {
 public:
  const char* name() const override { return "cpu"; }
  void* map(ImportSpec spec) override;
  void unmap(void* base, uint64_t size, HandleKind kind) override;
};

}  // namespace weft::ipc
