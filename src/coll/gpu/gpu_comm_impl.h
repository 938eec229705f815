// GpuComm's state, shared by its translation units:
//   peer_setup.cc  scratch allocation and registration with every peer
//   gpu_comm.cc    enqueueing operations, GpuOp
//   watchdog.cc    peer liveness and operation timeouts
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "coll/gpu/gpu_comm.h"
#include "coll/gpu/thresholds.h"
#include "coll/gpu/kernel_args.h"
#include "cuda/cuda_exporter.h"
#include "cuda/cuda_mapper.h"
#include "cuda/device_guard.h"
#include "ipc/registration_client.h"
#include "ipc/registration_service.h"
#include "register/registrar.h"
#include "weft/error.h"

namespace weft::gpu {

// Completion events, recycled: creating and destroying one per operation
// costs host time comparable to a small collective's time on the device.
class EventPool {
 public:
  EventPool() = default;
  ~EventPool();
  EventPool(const EventPool&) = delete;
  EventPool& operator=(const EventPool&) = delete;
  cudaEvent_t take(const std::string& what);  // a free event, or a new one
  void give(cudaEvent_t event);

 private:
  std::mutex mu_;
  std::vector<cudaEvent_t> free_;
};

// One enqueued operation, as GpuOp and the watchdog see it.
struct GpuOp::Record {
  std::string description;  // "allreduce #12 (1 MiB f32 sum)"
  cudaEvent_t done = nullptr;  // recorded after the kernel; null when captured
  std::shared_ptr<EventPool> events;  // where `done` goes back
  std::chrono::steady_clock::time_point deadline;
  std::shared_ptr<class FailureState> failure;  // shared with the communicator
  const volatile int* kernel_gave_up = nullptr;  // host-mapped status word
  ~Record();
};

// The first failure of a communicator; every later operation rethrows it.
class FailureState {
 public:
  // Records `error` if nothing failed yet; returns true if it was the first.
  bool set(const Error& error);
  std::optional<Error> get() const;
  void throw_if_failed() const;

 private:
  mutable std::mutex mu_;
  std::optional<Error> error_;
};

class GpuComm::Impl {
 public:
  Impl(Store& store, int rank, int size, const GpuCommConfig& config);
  ~Impl();

  // Marks the communicator failed and tells every kernel to give up.
  void fail(const Error& error);
  // Enqueues `launch` (a kernel launch on `stream`) as operation `what`.
  template <typename Launch>
  GpuOp enqueue(std::string what, cudaStream_t stream, Launch&& launch);
  GpuOp collective(CollKind kind, const char* name, const void* in, void* out, size_t count,
                   DataType type, ReduceOp op, int root, cudaStream_t stream);
  // Zero-copy allreduce / reduce_scatter / allgather when both buffers are
  // registered here and the size makes it worth two barriers; nullopt
  // otherwise (the staged path runs).
  std::optional<GpuOp> try_zero_copy(CollKind kind, const std::string& what, const void* in,
                                     void* out, size_t count, DataType type, ReduceOp op,
                                     cudaStream_t stream);
  GpuOp p2p(bool is_send, void* buf, size_t count, DataType type, int peer, cudaStream_t stream);

  const int rank;
  const int size;
  const GpuCommConfig config;
  int blocks = 0;
  PeerView view{};
  std::shared_ptr<FailureState> failure = std::make_shared<FailureState>();
  std::shared_ptr<EventPool> events = std::make_shared<EventPool>();

 private:
  friend class GpuComm;
  void setup_peers(Store& store);
  void start_watchdog();
  void watchdog_loop();
  void release_resources() noexcept;

  void* scratch_ = nullptr;          // weft::cuda::alloc, kScratchBytes
  uint64_t* epochs_ = nullptr;       // cudaMalloc, kEpochWords
  int* host_words_ = nullptr;        // cudaHostAlloc mapped: [0] abort, [1] status
  std::unique_ptr<cuda::CudaMapper> mapper_;
  std::unique_ptr<ipc::RegistrationService> service_;
  std::map<int, std::unique_ptr<ipc::RegistrationClient>> clients_;  // by peer rank
  cuda::CudaExporter exporter_;
  std::unique_ptr<reg::Registrar> registrar_;  // user buffers (register_buffer)
  SizeByCollective zero_copy_min_bytes_;
  size_t two_shot_min_bytes_ = 0;
  size_t push_max_bytes_ = 0;
  SizeByCollective ll_max_bytes_;
  int ll_block_threads_ = 256;  // WEFT_GPU_LL_THREADS
  bool dependent_launch_ = false;  // LL kernels as programmatic dependents (WEFT_GPU_PDL, Hopper+)

  uint64_t next_seq_ = 0;
  std::mutex pending_mu_;
  std::deque<std::shared_ptr<GpuOp::Record>> pending_;  // oldest first; held even if the caller dropped its GpuOp
  std::atomic<int> departed_peer_{-1};  // a peer whose connection closed (see watchdog.cc)
  std::atomic<bool> stop_watchdog_{false};
  std::thread watchdog_;
};

using DeviceGuard = cuda::DeviceGuard;

}  // namespace weft::gpu
