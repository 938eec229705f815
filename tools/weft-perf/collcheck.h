// Correctness checks shared by weft-perf (-c 1) and the tests: runs one
// collective on a communicator with deterministic, integer-valued
// inputs and checks this rank's result against an independent reference
// computed in int64 / float64 here (not with weft's kernels).
//
// Exactness: every input is a small integer, so sums, products (inputs 1 or 2),
// minima and maxima are exact in every dtype and compared exactly (integer
// types wrap like the kernels do). avg on floats is compared with a relative
// tolerance of one rounding of the dtype (f32 1e-6, f64 1e-12, f16 1e-3,
// bf16 8e-3); avg on integers truncates and is exact.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "weft/communicator.h"

namespace weft::check {

enum class Coll {
  allreduce, reduce, broadcast, allgather, allgatherv, reduce_scatter,
  alltoall, alltoallv, gather, scatter,
};
inline constexpr Coll kAllColls[] = {Coll::allreduce,      Coll::reduce,   Coll::broadcast,
                                     Coll::allgather,      Coll::allgatherv,
                                     Coll::reduce_scatter, Coll::alltoall, Coll::alltoallv,
                                     Coll::gather,         Coll::scatter};
const char* to_string(Coll c);
bool reduces(Coll c);

struct CheckCase {
  Coll coll = Coll::allreduce;
  DataType type = DataType::f32;
  ReduceOp op = ReduceOp::sum;
  size_t count = 0;
  bool in_place = false;
  int root = 0;
  // Bytes past the allocator's address at which this rank's buffers start.
  // Ranks that pass different shifts hold buffers at different offsets
  // modulo 64 from each other's, which copies between them must survive.
  size_t shift = 0;
  std::string describe() const;
};

struct CheckResult {
  size_t wrong = 0;     // elements that differ from the reference
  std::string detail;   // the first difference
};

// Collective: every rank calls it with the same case. Throws what the
// operation throws.
CheckResult run_check(Communicator& comm, const CheckCase& c);

// The element-level pieces of the checks, for callers that run the operation
// themselves (weft-perf's sweep, whose runners include other libraries):
// rank q's input element i, element access in any dtype, and the reference.
//  - input_value: `reducing` picks the values of reductions (sum/avg: 0..10,
//    prod: 1 or 2, min/max: 0..96) or of data movement (0..100);
//  - reduced_value: the reduction over ranks 0..n-1 of input_value(q, i, op,
//    true) as the dtype stores it; *tolerance is 0 except for float avg.
int64_t input_value(int q, size_t i, ReduceOp op, bool reducing);
void put_value(void* buf, size_t i, DataType t, int64_t v);
double get_value(const void* buf, size_t i, DataType t);
double as_stored(DataType t, int64_t v);
double reduced_value(DataType t, ReduceOp op, int n, size_t i, double* tolerance);

// Every (coll, dtype, op) for the sizes given, for world sizes that run them
// all; returns the failures, one line each ("" when all passed).
std::string run_matrix(Communicator& comm, const std::vector<size_t>& counts);

}  // namespace weft::check
