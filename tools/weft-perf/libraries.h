// What each library weft-perf can run supports, known without linking it:
// the driver checks a request against this before starting any process, and
// every runner checks again before its sweep.
#pragma once

#include <string>
#include <vector>

#include "result.h"
#include "weft/dtype.h"

namespace weft::perf {

struct LibraryInfo {
  std::string name;  // weft, gloo, mpi, nccl
  std::vector<Collective> collectives;
  std::vector<DataType> dtypes;
  std::vector<ReduceOp> ops;
};

// The comparators --compare accepts, in the order their names are listed.
const std::vector<std::string>& comparator_names();

// Throws InvalidArgument for an unknown name:
//   unknown comparator "foo" (known: gloo, mpi, nccl)
const LibraryInfo& library_info(const std::string& name);

// Throws Unsupported naming what the library lacks, e.g.
//   gloo cannot run bf16 (it runs f32 f64 i32 i64)
void require_supported(const LibraryInfo& lib, Collective c, DataType t, ReduceOp op);

}  // namespace weft::perf
