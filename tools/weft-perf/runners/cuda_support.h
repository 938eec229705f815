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

#include "runner.h"
#include "weft/communicator.h"
#include "weft/store.h"

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
// timed), run(n) replays it and synchronizes (InvalidArgument without
// prepare(n) first).
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

// An Op whose calls are enqueued on a stream: batches as above.
class StreamOp final : public Op {
 public:
  StreamOp(cudaStream_t stream, bool graph, std::function<void()> launch)
      : batch_(stream, graph, std::move(launch)) {}
  void launch() override { batch_.launch(); }
  void complete() override { batch_.complete(); }
  void prepare_batch(int n) override { batch_.prepare(n); }
  void run_batch(int n) override { batch_.run(n); }

 private:
  StreamBatch batch_;
};

// What every GPU runner's rank has: its place from the environment (RANK,
// WORLD_SIZE, LOCAL_RANK = the device, MASTER_ADDR, MASTER_PORT), the store,
// a weft host-memory communicator for barriers and sums (so the measured
// library only runs measured collectives), one non-blocking stream, and
// device buffers for the sweep.
class GpuRunner : public Runner {
 public:
  ~GpuRunner() override;
  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }
  void barrier() override;
  double sum_all(double value) override;
  std::shared_ptr<void> allocate(std::size_t bytes) override { return cuda_allocate(bytes); }
  void copy_in(void* dst, const void* host, std::size_t bytes) override {
    cuda_copy_in(dst, host, bytes);
  }
  void copy_out(void* host, const void* src, std::size_t bytes) override {
    cuda_copy_out(host, src, bytes);
  }

 protected:
  explicit GpuRunner(const std::string& library);
  int device() const { return device_; }
  Store& store() { return *store_; }
  cudaStream_t stream() const { return stream_; }
  // "NVIDIA H200, device 3"
  std::string device_text() const;

 private:
  int rank_, nranks_, device_;
  std::unique_ptr<TcpStore> store_;
  std::unique_ptr<Communicator> control_;
  cudaStream_t stream_ = nullptr;
};

}  // namespace weft::perf
