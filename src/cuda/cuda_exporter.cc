#include "cuda/cuda_exporter.h"

#include "cuda/check.h"
#include "cuda/export.h"

namespace weft::cuda {

reg::Extent CudaExporter::extent(const void* ptr, size_t bytes) {
  const auto context = [&] { return str("register of device buffer ", ptr, " + ", bytes, " bytes"); };
  CUdeviceptr base = 0;
  size_t size = 0;
  WEFT_CU(context(), cuMemGetAddressRange, &base, &size, reinterpret_cast<CUdeviceptr>(ptr));
  auto p = reinterpret_cast<uintptr_t>(ptr);
  WEFT_REQUIRE(bytes <= size - (p - base), context(), ": runs past the end of its allocation (",
               reinterpret_cast<void*>(base), " + ", size, " bytes)");
  // Tag 0 (unknown identity) when the driver cannot name the buffer: the
  // cache then reuses by address alone, as caches without tags do.
  unsigned long long id = 0;
  if (driver().cuPointerGetAttribute(&id, CU_POINTER_ATTRIBUTE_BUFFER_ID, base) != CUDA_SUCCESS) id = 0;
  return reg::Extent{static_cast<uintptr_t>(base), static_cast<uintptr_t>(base) + size, id};
}

reg::ExportedRange CudaExporter::export_range(uintptr_t begin, uintptr_t end) {
  ExportedBuffer ex = export_buffer(reinterpret_cast<const void*>(begin));
  WEFT_REQUIRE(end <= ex.base + ex.size, "export of device range ", reinterpret_cast<void*>(begin),
               "..", reinterpret_cast<void*>(end), ": spans more than one allocation");
  reg::ExportedRange out;
  out.desc = ex.desc();
  out.fd = std::move(ex.fd);
  out.anchor = begin;  // export_buffer(begin) sets offset = begin - base
  return out;
}

}  // namespace weft::cuda
