#include <sys/mman.h>
#include <sys/stat.h>

#include "ipc/mapper.h"
#include "weft/error.h"

namespace weft::ipc {

const char* to_string(HandleKind kind) {
  switch (kind) {
    case HandleKind::PosixFd: return "posix-fd";
    case HandleKind::CudaLegacyIpc: return "cuda-legacy-ipc";
  }
  return "unknown";
}

void* CpuMapper::map(ImportSpec spec) {
  if (spec.kind != HandleKind::PosixFd)
    throw_error(ErrorCode::Unsupported,
                str("cpu mapper cannot import a ", to_string(spec.kind), " handle"));
  WEFT_REQUIRE(spec.fd, "cpu mapper: import request without a file descriptor");
  WEFT_REQUIRE(spec.size > 0, "cpu mapper: zero-byte import");
  struct stat st;
  if (::fstat(spec.fd.get(), &st) != 0) throw_errno("cpu mapper: fstat of imported fd");
  WEFT_REQUIRE(static_cast<uint64_t>(st.st_size) >= spec.size, "cpu mapper: import of ", spec.size,
               " bytes but the file has only ", st.st_size);
  void* p = ::mmap(nullptr, spec.size, PROT_READ | PROT_WRITE, MAP_SHARED, spec.fd.get(), 0);
  if (p == MAP_FAILED) throw_errno(str("cpu mapper: mmap of ", spec.size, " bytes"));
  return p;  // the mapping keeps the file alive; spec.fd closes here
}

void CpuMapper::unmap(void* base, uint64_t size, HandleKind) {
  if (::munmap(base, size) != 0) throw_errno(str("cpu mapper: munmap of ", size, " bytes"));
}

}  // namespace weft::ipc
