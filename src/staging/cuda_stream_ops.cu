#include "staging/cuda_stream_ops.h"

#include <cuda_runtime_api.h>

#include <cstring>

#include "cuda/check.h"
#include "cuda/device_guard.h"

namespace weft::staging {
namespace {

// After the stream's earlier copies: make the word (host memory) say `value`.
__global__ void signal_word(uint64_t* word, uint64_t value) {
  __threadfence_system();
  asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(word), "l"(value) : "memory");
}

// Holds the stream until the word reaches `value` or the abort word is set.
__global__ void wait_word(const uint64_t* word, uint64_t value, const volatile uint64_t* abort) {
  for (uint32_t spins = 0;; ++spins) {
    uint64_t v;
    asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(word) : "memory");
    if (v >= value) return;
    if ((spins & 255u) == 255u && *abort != 0) return;
    __nanosleep(200);
  }
}

cudaStream_t to_stream(void* s) { return static_cast<cudaStream_t>(s); }

class CudaStreamOps final : public StreamOps {
 public:
  explicit CudaStreamOps(int device) : device_(device) {}

  void* alloc_host(size_t bytes) override {
    cuda::DeviceGuard guard(device_);
    void* p = nullptr;
    WEFT_CUDART(str("staging: ", bytes, " bytes of pinned host memory"), cudaHostAlloc, &p,
                bytes ? bytes : 1, cudaHostAllocMapped | cudaHostAllocPortable);
    std::memset(p, 0, bytes);
    return p;
  }
  void free_host(void* p) noexcept override { cudaFreeHost(p); }

  void* alloc_device(size_t bytes, void* stream) override {
    cuda::DeviceGuard guard(device_);
    void* p = nullptr;
    WEFT_CUDART(str("staging: ", bytes, " bytes of scratch on GPU ", device_), cudaMallocAsync,
                &p, bytes ? bytes : 1, to_stream(stream));
    return p;
  }
  void free_device(void* p, void* stream) override {
    cuda::DeviceGuard guard(device_);
    WEFT_CUDART("staging: scratch release", cudaFreeAsync, p, to_stream(stream));
  }

  void copy(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes,
            size_t rows, void* stream) override {
    if (row_bytes == 0 || rows == 0) return;
    cuda::DeviceGuard guard(device_);
    if (rows == 1)
      WEFT_CUDART("staging: copy", cudaMemcpyAsync, dst, src, row_bytes, cudaMemcpyDefault,
                  to_stream(stream));
    else
      WEFT_CUDART("staging: strided copy", cudaMemcpy2DAsync, dst, dst_pitch, src, src_pitch,
                  row_bytes, rows, cudaMemcpyDefault, to_stream(stream));
  }
  using StreamOps::copy;

  void signal(uint64_t* word, uint64_t value, void* stream) override {
    cuda::DeviceGuard guard(device_);
    signal_word<<<1, 1, 0, to_stream(stream)>>>(word, value);
    WEFT_CUDART("staging: signal kernel launch", cudaGetLastError);
  }

  void wait(const uint64_t* word, uint64_t value, const uint64_t* abort, void* stream) override {
    cuda::DeviceGuard guard(device_);
    wait_word<<<1, 1, 0, to_stream(stream)>>>(word, value, abort);
    WEFT_CUDART("staging: wait kernel launch", cudaGetLastError);
  }

  std::function<bool()> marker(void* stream, const std::string& what) override {
    cuda::DeviceGuard guard(device_);
    cudaEvent_t event = nullptr;
    WEFT_CUDART(what, cudaEventCreateWithFlags, &event, cudaEventDisableTiming);
    std::shared_ptr<CUevent_st> owned(event, [](cudaEvent_t e) { cudaEventDestroy(e); });
    WEFT_CUDART(what, cudaEventRecord, event, to_stream(stream));
    return [owned, what] {
      const cudaError_t err = cudaEventQuery(owned.get());
      if (err == cudaSuccess) return true;
      if (err == cudaErrorNotReady) return false;
      cuda::throw_runtime_error(err, "cudaEventQuery", what);
    };
  }

  bool capturing(void* stream) override {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    WEFT_CUDART("staging", cudaStreamIsCapturing, to_stream(stream), &status);
    return status != cudaStreamCaptureStatusNone;
  }

 private:
  const int device_;
};

}  // namespace

std::shared_ptr<StreamOps> make_cuda_stream_ops(int device) {
  return std::make_shared<CudaStreamOps>(device);
}

}  // namespace weft::staging
