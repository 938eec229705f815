#include "runners/cuda_support.h"
#include "runners/gpu_runners.h"

#include <algorithm>
#include <cstdlib>

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

void gpu_preflight(int nranks) {
  const int devices = cuda_device_count();
  if (devices < nranks) {
    throw_error(ErrorCode::Unsupported, str("GPU runs need ", nranks,
                                            " CUDA devices (one process per GPU), found ", devices));
  }
}

std::shared_ptr<void> cuda_allocate(std::size_t bytes) {
  void* p = nullptr;
  cuda_check(cudaMalloc(&p, std::max<std::size_t>(bytes, 64)), "cudaMalloc");
  cuda_check(cudaMemset(p, 0, std::max<std::size_t>(bytes, 64)), "cudaMemset");
  cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");  // cudaMemset is asynchronous
  return std::shared_ptr<void>(p, [](void* q) { cudaFree(q); });
}

void cuda_copy_in(void* device, const void* host, std::size_t bytes) {
  cuda_check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
  // From pageable memory cudaMemcpy returns once the data is staged for DMA,
  // not once it reached the device; the runners' streams are non-blocking,
  // so an operation launched next could read the buffer's old contents (the
  // in-place checks then saw the timed loop's results: wrong counts at 1-2
  // MiB on 2 H200s). Wait for the copy itself.
  cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
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
    auto it = graphs_.find(n);
    WEFT_REQUIRE(it != graphs_.end(), "StreamBatch: run(", n, ") before prepare(", n, ")");
    cuda_check(cudaGraphLaunch(it->second, stream_), "cudaGraphLaunch");
  } else {
    for (int i = 0; i < n; ++i) launch_();
  }
  complete();
}

namespace {

int env_int(const char* name) {
  const char* v = std::getenv(name);
  WEFT_REQUIRE(v != nullptr && *v != '\0', "GPU runner: ", name,
               " is not set (weft-perf --np N -g / --compare nccl starts these processes)");
  return std::atoi(v);
}

}  // namespace

GpuRunner::GpuRunner(const std::string& library)
    : rank_(env_int("RANK")), nranks_(env_int("WORLD_SIZE")), device_(env_int("LOCAL_RANK")) {
  cuda_check(cudaSetDevice(device_), "cudaSetDevice");
  TcpStoreOptions so;
  const char* addr = std::getenv("MASTER_ADDR");
  so.host = addr != nullptr && *addr != '\0' ? addr : "127.0.0.1";
  so.port = static_cast<uint16_t>(env_int("MASTER_PORT"));
  store_ = TcpStore::connect(so);
  CommOptions co;
  co.name = "weft-perf-control-" + library;
  control_ = std::make_unique<Communicator>(Communicator::init(*store_, rank_, nranks_, co));
  cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}

GpuRunner::~GpuRunner() {
  if (stream_ != nullptr) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
}

void GpuRunner::barrier() { control_->barrier().wait(); }

double GpuRunner::sum_all(double value) {
  double out = 0;
  control_->allreduce(&value, &out, 1, DataType::f64, ReduceOp::sum).wait();
  return out;
}

std::string GpuRunner::device_text() const {
  cudaDeviceProp prop{};
  cuda_check(cudaGetDeviceProperties(&prop, device_), "cudaGetDeviceProperties");
  return str(prop.name, ", device ", device_);
}

}  // namespace weft::perf
