// HierarchicalDeviceComm: device collectives across hosts with several GPUs
// each — peer memory (NVLink) inside each host, one staged network hop
// between hosts.
//
//   allreduce       reduce_scatter inside the host, allreduce of the shards
//                   between hosts (ranks of equal local index), allgather
//                   inside the host; small messages (below
//                   WEFT_HIER_SPLIT_MIN_BYTES, or fewer elements than local
//                   ranks): allreduce inside, then allreduce between hosts
//   reduce          reduce inside each host to the root's local index, then
//                   between hosts to the root
//   broadcast       between hosts among the root's local index, then inside
//   allgather       between hosts (each rank's block to its local index's
//                   group), then inside; one permuting copy to rank order
//   reduce_scatter  the inverse: a permuting copy, inside, then between
//   alltoall        staged over every rank (every pair moves distinct bytes)
//   send / recv     inside the host when the peer is there, staged otherwise
//
// Every step runs on the caller's stream, so the steps are ordered without
// host round trips; the returned Work completes when all of them have. A
// failure in any part (a peer lost inside the host, a socket between hosts)
// fails the others too, which tells the peers on both sides.
#pragma once

#include <memory>
#include <mutex>
#include <set>

#include "comm/device_comm.h"
#include "staging/host_layout.h"
#include "staging/staged_comm.h"

namespace weft::staging {

class HierarchicalDeviceComm final : public DeviceComm {
 public:
  HierarchicalDeviceComm(int rank, HostLayout layout, std::unique_ptr<DeviceComm> intra,
                         std::unique_ptr<StagedDeviceComm> inter,
                         std::unique_ptr<StagedDeviceComm> world,
                         std::shared_ptr<StreamOps> ops, size_t split_min_bytes);
  ~HierarchicalDeviceComm() override;

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

  uint64_t register_buffer(const void* ptr, size_t bytes) override;
  void deregister(uint64_t id) override;
  void abort(const std::string& reason) override;
  void fail(const Error& cause) override;
  std::optional<Error> failure() const override;

 private:
  // Device scratch for one operation, released in stream order.
  class Temp;
  void log_choice(const char* kind, const char* how) const;
  // The Work of an operation made of `steps` whose last work is on `stream`.
  Work finish(const char* what, std::vector<Work> steps, void* stream);
  // Inside the host an average only sums: the inter-host step divides once
  // by the world size (exact for integers, one rounding for floats).
  static ReduceOp inside_op(ReduceOp op) { return op == ReduceOp::avg ? ReduceOp::sum : op; }
  int host() const { return layout_.host_of[static_cast<size_t>(rank_)]; }
  int local() const { return layout_.local_of[static_cast<size_t>(rank_)]; }

  const int rank_;
  const HostLayout layout_;
  const int hosts_, locals_;
  std::unique_ptr<DeviceComm> intra_;
  std::unique_ptr<StagedDeviceComm> inter_, world_;
  std::shared_ptr<StreamOps> ops_;
  const size_t split_min_bytes_;
  mutable std::mutex log_mu_;
  mutable std::set<std::string> logged_;
};

// What the multi-host path needs from the platform.
struct MultiHostParts {
  std::shared_ptr<StreamOps> ops;
  // The device communicator among this host's ranks; `world` is a host-memory
  // communicator over every rank (to split if the implementation needs one).
  std::function<std::unique_ptr<DeviceComm>(Communicator& world, int host, int local_rank,
                                            int local_size)>
      make_intra;
};

// The device communicator for ranks spread over several hosts: hierarchical
// when every host has the same number (> 1) of ranks, flat staging over
// every rank otherwise; WEFT_MULTIHOST=flat|hier overrides (hier where
// possible). Collective over `host`'s ranks (it splits `host`).
std::unique_ptr<DeviceComm> make_multihost_device_comm(Communicator& host,
                                                       const HostLayout& layout,
                                                       const MultiHostParts& parts,
                                                       const StagingConfig& config);

}  // namespace weft::staging
