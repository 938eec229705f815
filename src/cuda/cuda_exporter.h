// CudaExporter: the registrar's Exporter for device memory.
//
// A registration covers the buffer's whole CUDA allocation (found with
// cuMemGetAddressRange), as the peers map whole allocations anyway. Distinct
// allocations never overlap, so the cache never merges across them, and the
// allocation's buffer id (CU_POINTER_ATTRIBUTE_BUFFER_ID, unique for the
// process's lifetime) is the cache tag: a buffer freed and reallocated at the
// same address is a new registration, never a stale reuse.
#pragma once

#include "register/exporter.h"

namespace weft::cuda {

class CudaExporter final : public reg::Exporter {
 public:
  // Allocation ranges are exact: no rounding.
  size_t granularity() const override { return 1; }
  reg::Extent extent(const void* ptr, size_t bytes) override;
  reg::ExportedRange export_range(uintptr_t begin, uintptr_t end) override;
};

}  // namespace weft::cuda
