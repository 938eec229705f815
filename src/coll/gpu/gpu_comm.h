// GpuComm: collectives between the GPUs of one host, one process per GPU.
//
// Every rank allocates one scratch buffer (cuMem, shareable as a POSIX fd)
// and registers it with every peer through the peers' registration services
// (the seed's flow: export -> SCM_RIGHTS -> import/reserve/map/set-access on
// the peer). Kernels then read the peers' scratch directly over NVLink and
// signal each other with release/acquire flags (see layout.h, coll_kernel.cuh).
//
// Operations are enqueued on the caller's stream (NCCL semantics) and return
// a GpuOp that can be waited on or ignored. Under CUDA-graph capture they
// enqueue the same kernels and return an already-complete GpuOp: the epochs
// that sequence the kernels live on the device, so replays stay correct.
//
// Failures never hang: a watchdog thread notices a peer whose process exits
// (its registration connection closes) and a GpuOp that outlives its timeout;
// it records the failure and raises a host-mapped abort word that every
// waiting kernel polls, so the kernels return and the failure surfaces at
// wait() as PeerLost or Timeout naming the peer and the operation. Every
// later operation fails fast with the same error.
#pragma once

#include <cuda_runtime_api.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "weft/dtype.h"
#include "weft/error.h"

namespace weft {
class Store;
}

namespace weft::gpu {

struct GpuCommConfig {
  int device = 0;
  std::chrono::milliseconds timeout{std::chrono::seconds(600)};       // per operation
  std::chrono::milliseconds init_timeout{std::chrono::seconds(300)};  // peers joining
  std::string name = "weft";  // store key prefix; distinct per communicator
  int blocks = 0;             // thread blocks per kernel; 0 = WEFT_GPU_BLOCKS
};

class GpuOp {
 public:
  GpuOp() = default;
  // Blocks until the operation completed on the device; throws its failure.
  void wait() const;
  // True when complete; throws the failure of a failed operation.
  bool test() const;
  std::string describe() const;

  struct Record;
  explicit GpuOp(std::shared_ptr<Record> record) : record_(std::move(record)) {}

 private:
  std::shared_ptr<Record> record_;
};

class GpuComm {
 public:
  // Collective over `size` ranks of this host; `rank` uses `config.device`.
  GpuComm(Store& store, int rank, int size, const GpuCommConfig& config);
  ~GpuComm();
  GpuComm(const GpuComm&) = delete;
  GpuComm& operator=(const GpuComm&) = delete;

  int rank() const;
  int size() const;
  int device() const;
  int blocks() const;

  // Same semantics as the host-memory Communicator; buffers are device memory
  // of this GPU; `in == out` is in place.
  GpuOp allreduce(const void* in, void* out, size_t count, DataType type, ReduceOp op,
                  cudaStream_t stream);
  GpuOp reduce(const void* in, void* out, size_t count, DataType type, ReduceOp op, int root,
               cudaStream_t stream);
  GpuOp broadcast(const void* in, void* out, size_t count, DataType type, int root,
                  cudaStream_t stream);
  GpuOp allgather(const void* in, void* out, size_t count, DataType type, cudaStream_t stream);
  GpuOp reduce_scatter(const void* in, void* out, size_t recv_count, DataType type, ReduceOp op,
                       cudaStream_t stream);
  GpuOp alltoall(const void* in, void* out, size_t count, DataType type, cudaStream_t stream);
  // A send completes once its data is staged; large transfers need the
  // matching recv to run concurrently (as with NCCL without groups).
  GpuOp send(const void* buf, size_t count, DataType type, int peer, cudaStream_t stream);
  GpuOp recv(void* buf, size_t count, DataType type, int peer, cudaStream_t stream);

  // Registers device memory with every peer (local: no other rank takes
  // part). Allreduces whose input and output are registered on every rank
  // run zero-copy; see weft::Communicator::register_buffer.
  uint64_t register_buffer(const void* ptr, size_t bytes);
  void deregister(uint64_t id);

  // Fails every pending and later operation with Aborted; kernels return.
  void abort(const std::string& reason);
  // Fails every pending and later operation with `cause`; kernels return.
  void fail(const Error& cause);
  std::optional<Error> failure() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::gpu
