// What GPU runners share (NCCL's now, weft's own device path next): device
// buffers for the sweep, host<->device copies, and timed batches of calls
// on one stream, launched eagerly or captured once into a CUDA graph and
// replayed.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>

namespace weft::perf {

// Throws CudaError "<what>: <CUDA's error string>" unless rc is cudaSuccess.
void cuda_check(cudaError_t rc, const char* what);
// CUDA devices visible to this process; 0 when there is no driver or device.
int cuda_device_count();

std::shared_ptr<void> cuda_allocate(std::size_t bytes);  // zeroed device memory
void cuda_copy_in(void* device, const void* host, std::size_t bytes);
void cuda_copy_out(void* host, const void* device, std::size_t bytes);

// Batches of `launch` on `stream`. Eager: n launches then a stream
// synchronize. Graph: prepare(n) captures n launches into a graph once (not
// timed), run(n) replays it and synchronizes.
class StreamBatch {
 public:
  StreamBatch(cudaStream_t stream, bool graph, std::function<void()> launch);
  ~StreamBatch();
  StreamBatch(const StreamBatch&) = delete;
  StreamBatch& operator=(const StreamBatch&) = delete;

  void launch() { launch_(); }
  void complete();
  void prepare(int n);
  void run(int n);

 private:
  cudaStream_t stream_;
  bool graph_;
  std::function<void()> launch_;
  std::map<int, cudaGraphExec_t> graphs_;  // by batch size
};

}  // namespace weft::perf
