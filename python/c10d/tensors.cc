#include "tensors.h"

#include <c10/util/Exception.h>

#include "work.h"

namespace weft::c10d_ext {

DataType check_tensor(const char* op, const at::Tensor& t, const char* role) {
  if (!t.defined()) {
    C10_THROW_ERROR(ValueError, c10::str("weft_cpp: ", op, ": ", role, " is undefined"));
  }
  if (!t.device().is_cpu() && !t.device().is_cuda()) {
    C10_THROW_ERROR(NotImplementedError,
                    c10::str("weft_cpp: ", op, ": ", role, " is on ", t.device(),
                             ": backend weft_cpp takes CPU and CUDA tensors"));
  }
  if (t.layout() != at::kStrided) {
    C10_THROW_ERROR(NotImplementedError,
                    c10::str("weft_cpp: ", op, ": ", role, " has layout ", t.layout(),
                             "; only dense (strided) tensors are supported"));
  }
  switch (t.scalar_type()) {
    case at::kFloat: return DataType::f32;
    case at::kDouble: return DataType::f64;
    case at::kHalf: return DataType::f16;
    case at::kBFloat16: return DataType::bf16;
    case at::kChar: return DataType::i8;
    case at::kByte: return DataType::u8;
    case at::kBool: return DataType::u8;
    case at::kInt: return DataType::i32;
    case at::kUInt32: return DataType::u32;
    case at::kLong: return DataType::i64;
    case at::kUInt64: return DataType::u64;
    default: break;
  }
  C10_THROW_ERROR(NotImplementedError,
                  c10::str("weft_cpp: ", op, ": ", role, " has dtype ", t.scalar_type(),
                           ", which weft does not support (float16/32/64, bfloat16, int8/32/64, "
                           "uint8/32/64, bool)"));
}

DataType check_same_dtype(const char* op, const std::vector<at::Tensor>& tensors) {
  TORCH_CHECK_VALUE(!tensors.empty(), "weft_cpp: ", op, ": no tensors");
  const DataType type = check_tensor(op, tensors[0]);
  for (const auto& t : tensors) {
    check_tensor(op, t);
    if (t.scalar_type() != tensors[0].scalar_type()) {
      C10_THROW_ERROR(TypeError, c10::str("weft_cpp: ", op, ": tensors of different dtypes (",
                                          tensors[0].scalar_type(), " and ", t.scalar_type(),
                                          ")"));
    }
  }
  return type;
}

ReduceOp reduce_op(const char* op, const ::c10d::ReduceOp& torch_op) {
  switch (torch_op.op_) {
    case ::c10d::ReduceOp::SUM: return ReduceOp::sum;
    case ::c10d::ReduceOp::PRODUCT: return ReduceOp::prod;
    case ::c10d::ReduceOp::MIN: return ReduceOp::min;
    case ::c10d::ReduceOp::MAX: return ReduceOp::max;
    case ::c10d::ReduceOp::AVG: return ReduceOp::avg;
    default: break;
  }
  C10_THROW_ERROR(NotImplementedError,
                  c10::str("weft_cpp: ", op, ": reduce op ", static_cast<int>(torch_op.op_),
                           " is not supported (weft has SUM, PRODUCT, MIN, MAX and AVG)"));
}

at::Tensor stage(WeftWork& work, const at::Tensor& t, bool write) {
  if (t.is_contiguous()) {
    work.keep(t);
    return t;
  }
  at::Tensor copy = t.contiguous();
  work.keep(copy);
  if (write) {
    work.later([t, copy] { t.copy_(copy); });
  }
  return copy;
}

at::Tensor flatten(WeftWork& work, const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> flat;
  flat.reserve(tensors.size());
  for (const auto& t : tensors) {
    flat.push_back(t.reshape({-1}));
  }
  at::Tensor buffer = at::cat(flat);
  work.keep(buffer);
  return buffer;
}

at::Tensor gather_buffer(WeftWork& work, const at::Tensor& like, size_t numel,
                         const std::vector<at::Tensor>& outs) {
  at::Tensor buffer = at::empty({static_cast<int64_t>(numel)}, like.options());
  work.keep(buffer);
  work.later([buffer, outs] {
    int64_t offset = 0;
    for (const auto& out : outs) {
      const int64_t n = out.numel();
      out.copy_(buffer.narrow(0, offset, n).view(out.sizes()));
      offset += n;
    }
  });
  return buffer;
}

}  // namespace weft::c10d_ext
