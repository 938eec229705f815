// The built-in communication hooks: plain averaging allreduce, and half-
// precision compression (PyTorch's fp16_compress_hook / bf16_compress_hook).
#include <cstring>

#include "core/half.h"
#include "weft/ddp.h"
#include "weft/error.h"

namespace weft::ddp {
namespace {

class AllreduceHook final : public CommHook {
 public:
  std::string name() const override { return "allreduce"; }
  Work launch(Communicator& comm, GradBucket& b) override {
    return comm.allreduce(b.data, b.data, b.count, b.dtype, ReduceOp::avg);
  }
};

// Pre-dividing by the world size before rounding (rather than averaging after
// the sum) keeps the half-precision partial sums in range: the sum of W
// values of magnitude m/W stays below m.
template <typename Float>
void compress(uint16_t* out, const Float* in, size_t n, float scale, DataType half) {
  if (half == DataType::f16) {
    for (size_t i = 0; i < n; ++i) out[i] = half::float_to_f16(static_cast<float>(in[i]) * scale);
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = half::float_to_bf16(static_cast<float>(in[i]) * scale);
  }
}

template <typename Float>
void decompress(Float* out, const uint16_t* in, size_t n, DataType half) {
  if (half == DataType::f16) {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<Float>(half::f16_to_float(in[i]));
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<Float>(half::bf16_to_float(in[i]));
  }
}

class CompressHook final : public CommHook {
 public:
  explicit CompressHook(DataType half) : half_(half) {}
  std::string name() const override { return str(to_string(half_), "_compress"); }

  Work launch(Communicator& comm, GradBucket& b) override {
    if (!compressible(b.dtype)) return plain_.launch(comm, b);
    b.scratch->resize(b.count * sizeof(uint16_t));
    auto* packed = reinterpret_cast<uint16_t*>(b.scratch->data());
    const float scale = 1.0f / static_cast<float>(comm.size());
    if (b.dtype == DataType::f32)
      compress(packed, static_cast<const float*>(b.data), b.count, scale, half_);
    else
      compress(packed, static_cast<const double*>(b.data), b.count, scale, half_);
    return comm.allreduce(packed, packed, b.count, half_, ReduceOp::sum);
  }

  void finish(Communicator&, GradBucket& b) override {
    if (!compressible(b.dtype)) return;
    const auto* packed = reinterpret_cast<const uint16_t*>(b.scratch->data());
    if (b.dtype == DataType::f32)
      decompress(static_cast<float*>(b.data), packed, b.count, half_);
    else
      decompress(static_cast<double*>(b.data), packed, b.count, half_);
  }

 private:
  static bool compressible(DataType t) { return t == DataType::f32 || t == DataType::f64; }
  DataType half_;
  AllreduceHook plain_;
};

}  // namespace

std::shared_ptr<CommHook> allreduce_hook() { return std::make_shared<AllreduceHook>(); }

std::shared_ptr<CommHook> compress_hook(DataType half) {
  WEFT_REQUIRE(half == DataType::f16 || half == DataType::bf16,
               "ddp::compress_hook: the compressed type must be f16 or bf16, not ",
               to_string(half));
  return std::make_shared<CompressHook>(half);
}

}  // namespace weft::ddp
