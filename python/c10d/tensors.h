// torch tensors as weft buffers: dtype and reduce-op mapping, the checks every
// operation makes, and staging (non-contiguous tensors and list forms go
// through one contiguous buffer that is copied back when the operation
// completed: on the host by the completer, for CUDA tensors on the
// operation's stream right behind it).
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/Types.hpp>

#include <cstddef>
#include <vector>

#include "weft/dtype.h"

namespace weft::c10d_ext {

class WeftWork;

// The weft dtype of a CPU or CUDA tensor; throws (naming op and role) for a
// tensor on another device, a sparse one, or a dtype weft has no counterpart
// for. bool travels as u8.
DataType check_tensor(const char* op, const at::Tensor& t, const char* role = "tensor");
// Every tensor of `tensors` has the dtype of the first; returns it.
DataType check_same_dtype(const char* op, const std::vector<at::Tensor>& tensors);
// SUM PRODUCT MIN MAX AVG; the bitwise ops and PREMUL_SUM throw naming op.
ReduceOp reduce_op(const char* op, const ::c10d::ReduceOp& torch_op);

// Hands `t` to a weft operation: t itself when contiguous, else a contiguous
// copy that `work` writes back into t once the operation completed (when
// `write`). The returned tensor is kept alive by `work`.
at::Tensor stage(WeftWork& work, const at::Tensor& t, bool write);
// A contiguous 1-D tensor holding `tensors` concatenated (kept alive by work).
at::Tensor flatten(WeftWork& work, const std::vector<at::Tensor>& tensors);
// A fresh contiguous buffer of `numel` elements of t's dtype (kept by work)
// whose consecutive slices are copied into `outs` at completion.
at::Tensor gather_buffer(WeftWork& work, const at::Tensor& like, size_t numel,
                         const std::vector<at::Tensor>& outs);

}  // namespace weft::c10d_ext
