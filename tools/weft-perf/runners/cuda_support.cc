#include "runners/cuda_support.h"

#include <algorithm>

#include "weft/error.h"

namespace weft::perf {

void cuda_check(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) {
    throw_error(ErrorCode::CudaError, str(what, ": ", cudaGetErrorString(rc)));
  }
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver / no device: not sticky, clear it
    return 0;
  }
  return n;
}

std::shared_ptr<void> cuda_allocate(std::size_t bytes) {
  void* p = nullptr;
  cuda_check(cudaMalloc(&p, std::max<std::size_t>(bytes, 64)), "cudaMalloc");
  cuda_check(cudaMemset(p, 0, std::max<std::size_t>(bytes, 64)), "cudaMemset");
  return std::shared_ptr<void>(p, [](void* q) { cudaFree(q); });
}

void cuda_copy_in(void* device, const void* host, std::size_t bytes) {
  cuda_check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
}

void cuda_copy_out(void* host, const void* device, std::size_t bytes) {
  cuda_check(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}

StreamBatch::StreamBatch(cudaStream_t stream, bool graph, std::function<void()> launch)
    : stream_(stream), graph_(graph), launch_(std::move(launch)) {}

StreamBatch::~StreamBatch() {
  for (auto& [n, exec] : graphs_) cudaGraphExecDestroy(exec);
}

void StreamBatch::complete() { cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

void StreamBatch::prepare(int n) {
  if (!graph_ || graphs_.count(n) != 0) return;
  cuda_check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
             "cudaStreamBeginCapture");
  cudaGraph_t graph = nullptr;
  try {
    for (int i = 0; i < n; ++i) launch_();
  } catch (...) {
    cudaStreamEndCapture(stream_, &graph);
    if (graph != nullptr) cudaGraphDestroy(graph);
    throw;
  }
  cuda_check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
  cudaGraphExec_t exec = nullptr;
  cudaError_t rc = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  cuda_check(rc, "cudaGraphInstantiate");
  graphs_[n] = exec;
}

void StreamBatch::run(int n) {
  if (graph_) {
    prepare(n);
    cuda_check(cudaGraphLaunch(graphs_.at(n), stream_), "cudaGraphLaunch");
  } else {
    for (int i = 0; i < n; ++i) launch_();
  }
  complete();
}

}  // namespace weft::perf
