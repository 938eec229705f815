// StagedDeviceComm: device-memory collectives between GPUs that share no
// peer memory (ranks on different hosts), through pinned host memory.
//
// Each operation is cut into chunks. On the caller's stream, per chunk: copy
// device -> a pinned slot, signal `ready`; the proxy runs the host collective
// of that chunk over the host communicator (sockets); the stream waits for
// `done` and copies the slot back to the device. A ring of slots keeps
// several chunks in flight, so the device copies of one chunk overlap the
// network transfer of the others, and stream semantics are NCCL's: the
// operation runs after the stream's earlier work and before its later work.
//
// Operations of one lane (collectives, sends, receives: see proxy.h) are
// serialized through the lane's slots: each starts once the previous one
// released them (`drained`), whatever stream either runs on, which keeps the
// lane's chunk counters monotonic. Capture into a CUDA graph is refused (the
// counters' values would be baked into the graph).
#pragma once

#include <memory>
#include <mutex>

#include "comm/device_comm.h"
#include "staging/proxy.h"
#include "staging/stream_ops.h"
#include "weft/communicator.h"

namespace weft::staging {

struct StagingConfig {
  size_t chunk_bytes = 1 << 20;  // WEFT_STAGE_CHUNK_BYTES
  int slots = 8;                 // WEFT_STAGE_SLOTS
  std::chrono::milliseconds timeout{std::chrono::seconds(600)};
  static StagingConfig from_env(std::chrono::milliseconds timeout);
};

class StagedDeviceComm final : public DeviceComm {
 public:
  // `host` is a host-memory communicator over the same ranks (this object
  // owns it); `label` names it in errors ("inter-host"). `avg_over` > 0:
  // ReduceOp::avg sums and divides by `avg_over` (not by this
  // communicator's size) — the last step of a hierarchical average, whose
  // earlier steps summed.
  StagedDeviceComm(Communicator host, std::shared_ptr<StreamOps> ops, StagingConfig config,
                   std::string label, int avg_over = 0);
  ~StagedDeviceComm() override;

  int rank() const { return rank_; }
  int size() const { return size_; }

  Work allreduce(const void* in, void* out, size_t count, DataType type, ReduceOp op,
                 void* stream) override;
  Work reduce(const void* in, void* out, size_t count, DataType type, ReduceOp op, int root,
              void* stream) override;
  Work broadcast(void* buf, size_t count, DataType type, int root, void* stream) override;
  Work allgather(const void* in, void* out, size_t count, DataType type, void* stream) override;
  Work reduce_scatter(const void* in, void* out, size_t recv_count, DataType type, ReduceOp op,
                      void* stream) override;
  Work alltoall(const void* in, void* out, size_t count, DataType type, void* stream) override;
  Work send(const void* buf, size_t count, DataType type, int peer, void* stream) override;
  Work recv(void* buf, size_t count, DataType type, int peer, void* stream) override;

  // Registration buys nothing here: every byte goes through the slots.
  uint64_t register_buffer(const void*, size_t) override { return 0; }
  void deregister(uint64_t) override {}
  void abort(const std::string& reason) override;
  void fail(const Error& cause) override;
  std::optional<Error> failure() const override { return proxy_->failure(); }

  // Failures elsewhere (a sibling communicator) that must stop this one, and
  // who to tell when this one fails.
  void set_watch(std::function<std::optional<Error>()> watch) { proxy_->set_watch(std::move(watch)); }
  void set_on_failure(std::function<void(const Error&)> callback);

 private:
  // Copies for chunk `k` between the device buffers and `slot`, enqueued on
  // the stream; the host operation of chunk `k` on `slot`.
  using StageFn = std::function<void(size_t k, char* slot)>;
  using HostFn = std::function<Work(size_t k, char* slot)>;
  // `after` (optional) runs on the host once chunk k's host operation finished.
  Work run(Lane lane, const std::string& what, size_t chunks, const StageFn& in,
           const HostFn& host, const StageFn& out, void* stream, const StageFn& after = {});
  // The reduction the host runs for `op`, and the division that completes it
  // (empty when none) for chunks of m(k) elements at `offset(k)` in the slot.
  ReduceOp host_op(ReduceOp op) const { return op == ReduceOp::avg && avg_over_ ? ReduceOp::sum : op; }
  StageFn divide(ReduceOp op, DataType type, std::function<size_t(size_t)> m,
                 std::function<size_t(size_t)> offset) const;
  std::string describe(const char* name, size_t count, DataType type) ;
  // Elements per chunk (per rank for the blocked collectives).
  size_t chunk_elems(DataType type, size_t blocks) const;

  Communicator host_;
  std::shared_ptr<StreamOps> ops_;
  const StagingConfig config_;
  const std::string label_;
  const int avg_over_;
  const int rank_, size_;

  // A lane's ring of pinned slots (allocated on the lane's first use: most
  // programs never send or receive device buffers across hosts) and where
  // its chunk numbering stands.
  struct LaneSlots {
    char* slots = nullptr;  // alloc_host: config_.slots * slot_bytes
    size_t slot_bytes = 0;
    uint64_t next_chunk = 1;
    uint64_t last_drained = 0;
  };
  ControlWords* words_ = nullptr;  // alloc_host: one per lane
  LaneSlots lanes_[kLanes];
  std::unique_ptr<Proxy> proxy_;
  std::mutex sibling_mu_;
  std::function<void(const Error&)> sibling_;  // set_on_failure

  std::mutex enqueue_mu_;  // operations enqueue their chunks atomically; lanes_
  uint64_t next_seq_ = 0;
};

}  // namespace weft::staging
