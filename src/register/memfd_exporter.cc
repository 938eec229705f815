#include <fcntl.h>
#include <unistd.h>

#include "register/exporter.h"
#include "weft/error.h"

namespace weft::reg {

MemfdExporter::MemfdExporter(int fd, const void* base, size_t size)
    : fd_(fd), base_(reinterpret_cast<uintptr_t>(base)), size_(size) {
  WEFT_REQUIRE(base_ % granularity() == 0, "memfd exporter: base ", base, " is not page-aligned");
}

size_t MemfdExporter::granularity() const { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

Extent MemfdExporter::extent(const void* ptr, size_t bytes) {
  auto p = reinterpret_cast<uintptr_t>(ptr);
  WEFT_REQUIRE(p >= base_ && bytes <= size_ && p - base_ <= size_ - bytes, "register: buffer ", ptr,
               " + ", bytes, " bytes is not inside the exported file's mapping at ",
               reinterpret_cast<void*>(base_), " + ", size_);
  return Extent{p, p + bytes, 0};
}

ExportedRange MemfdExporter::export_range(uintptr_t begin, uintptr_t end) {
  WEFT_REQUIRE(begin >= base_ && end <= base_ + size_ && begin < end, "memfd exporter: range ",
               reinterpret_cast<void*>(begin), "..", reinterpret_cast<void*>(end), " is outside the file");
  // A duplicate, so that the exported descriptor's lifetime is the export's.
  net::Fd dup(::fcntl(fd_, F_DUPFD_CLOEXEC, 0));
  if (!dup) throw_errno("memfd exporter: dup");
  ExportedRange out;
  out.desc = ipc::ExportDesc{ipc::HandleKind::PosixFd, dup.get(), size_, begin - base_, {}};
  out.fd = std::move(dup);
  out.anchor = begin;
  return out;
}

}  // namespace weft::reg
