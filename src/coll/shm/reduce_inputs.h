// What the shared-memory collectives (intra.cc, box.cc) share around a
// reduction: the per-rank input pointers and the scaling of an average.
#pragma once

#include <vector>

#include "weft/dtype.h"
#include "weft/reduce.h"

namespace weft::coll {

// The per-rank input pointers of a reduce: inline up to 8 ranks (no heap
// allocation per operation at the usual host sizes), on the heap beyond.
class Inputs {
 public:
  explicit Inputs(int n) {
    if (n > kInline) heap_.resize(static_cast<size_t>(n));
  }
  const void** data() { return heap_.empty() ? inline_ : heap_.data(); }
  const void*& operator[](int i) { return data()[i]; }

 private:
  static constexpr int kInline = 8;
  const void* inline_[kInline] = {};
  std::vector<const void*> heap_;
};

// Divides a finished sum by `average_over` when the operation is an average.
inline void scale_if_average(void* data, size_t count, DataType type, ReduceOp op, int average_over) {
  if (op == ReduceOp::avg && average_over > 0) scale_for_average(data, count, type, average_over);
}

}  // namespace weft::coll
