// Exporter: how the registrar turns local memory into something a peer's
// registration service can map. One implementation per kind of memory:
// MemfdExporter (host memory backed by a memfd / shm file, used by the CPU
// tests and by shared-memory staging), cuda::CudaExporter (device memory:
// cuMem POSIX fd or legacy CUDA IPC).
#pragma once

#include <cstddef>
#include <cstdint>

#include "ipc/registration_client.h"
#include "net/fd.h"

namespace weft::reg {

// What registering a buffer covers: [begin, end) and the memory's identity.
struct Extent {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  uint64_t tag = 0;  // tells allocations at the same address apart (0: unknown)
};

struct ExportedRange {
  ipc::ExportDesc desc;  // desc.fd is borrowed from `fd`
  net::Fd fd;      // keeps the exported descriptor open until the peers have it
  uintptr_t anchor = 0;  // the local address the peer's reply address corresponds to
};

class Exporter {
 public:
  virtual ~Exporter() = default;
  // Rounding unit of the registration cache for this memory (power of two).
  virtual size_t granularity() const = 0;
  // The range to register for a user buffer (at least [ptr, ptr + bytes)).
  virtual Extent extent(const void* ptr, size_t bytes) = 0;
  // Exports the memory holding [begin, end) (a registered range).
  virtual ExportedRange export_range(uintptr_t begin, uintptr_t end) = 0;
};

// Host memory mapped from one memfd/shm descriptor: [base, base + size) here
// is the file's [0, size).
class MemfdExporter final : public Exporter {
 public:
  MemfdExporter(int fd, const void* base, size_t size);
  size_t granularity() const override;
  Extent extent(const void* ptr, size_t bytes) override;
  ExportedRange export_range(uintptr_t begin, uintptr_t end) override;

 private:
  int fd_;
  uintptr_t base_;
  size_t size_;
};

}  // namespace weft::reg
