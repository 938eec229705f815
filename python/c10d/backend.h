// WeftBackend: a c10d::Backend on weft Communicators.
//
//   import weft.torch_cpp                  # registers backend "weft_cpp"
//   dist.init_process_group("weft_cpp")    # CPU and CUDA tensors
//
// CPU tensors go through a host-memory communicator made at construction.
// CUDA tensors go through a CUDA communicator on their GPU, made by the
// group's first operation on CUDA tensors (making one is collective: every
// rank issues the same operations in the same order, so every rank gets
// there), enqueued on torch's current stream of that GPU as NCCL's are.
//
// Rendezvous goes through the torch store the group was created with (any
// kind: TCPStore, FileStore, PrefixStore, ...; see store_adapter.h). Every
// operation checks its tensors, stages what is not contiguous, issues weft's
// asynchronous operation on the caller's thread and returns a WeftWork whose
// future completes with the output tensors (work.h). Unsupported requests
// (sparse tensors, a dtype or reduce op weft lacks, recv from any source,
// the uneven and rooted data movements weft's CUDA communicator lacks) throw
// a torch error naming the operation; weft's own errors
// (Mismatch between ranks, PeerLost, Timeout) reach wait() and the future as
// torch.distributed.DistBackendError carrying weft's message.
#pragma once

#include <c10/core/Device.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "weft/communicator.h"
#include "work.h"

namespace weft::c10d_ext {

class TorchStore;

// Where one operation runs (WeftBackend::target).
struct Target {
  Communicator* comm = nullptr;
  OpOptions options;                  // for CUDA: options.stream is torch's current stream
  std::optional<c10::Device> device;  // the GPU, for CUDA tensors
  bool cuda() const { return device.has_value(); }
};

class WeftBackend : public ::c10d::Backend {
 public:
  static constexpr const char* kName = "weft_cpp";

  // Collective over the group: every rank constructs with the same store.
  WeftBackend(const c10::intrusive_ptr<::c10d::Store>& store, int rank, int size,
              std::chrono::milliseconds timeout, const std::string& group);
  ~WeftBackend() override;

  const std::string getBackendName() const override { return kName; }

  // --- reductions (collectives.cc) ---
  c10::intrusive_ptr<::c10d::Work> allreduce(std::vector<at::Tensor>& tensors,
                                             const ::c10d::AllreduceOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> allreduce_coalesced(
      std::vector<at::Tensor>& tensors, const ::c10d::AllreduceCoalescedOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> reduce(std::vector<at::Tensor>& tensors,
                                          const ::c10d::ReduceOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> reduce_scatter(
      std::vector<at::Tensor>& outputs, std::vector<std::vector<at::Tensor>>& inputs,
      const ::c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> _reduce_scatter_base(
      at::Tensor& output, at::Tensor& input, const ::c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> reduce_scatter_tensor_coalesced(
      std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
      const ::c10d::ReduceScatterOptions& opts) override;

  // --- data movement (collectives.cc) ---
  c10::intrusive_ptr<::c10d::Work> broadcast(std::vector<at::Tensor>& tensors,
                                             const ::c10d::BroadcastOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& outputs,
                                             std::vector<at::Tensor>& inputs,
                                             const ::c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> allgather_coalesced(
      std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs,
      const ::c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> _allgather_base(at::Tensor& output, at::Tensor& input,
                                                   const ::c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> allgather_into_tensor_coalesced(
      std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
      const ::c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> gather(std::vector<std::vector<at::Tensor>>& outputs,
                                          std::vector<at::Tensor>& inputs,
                                          const ::c10d::GatherOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> scatter(std::vector<at::Tensor>& outputs,
                                           std::vector<std::vector<at::Tensor>>& inputs,
                                           const ::c10d::ScatterOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> alltoall_base(at::Tensor& output, at::Tensor& input,
                                                 std::vector<int64_t>& output_splits,
                                                 std::vector<int64_t>& input_splits,
                                                 const ::c10d::AllToAllOptions& opts) override;
  c10::intrusive_ptr<::c10d::Work> alltoall(std::vector<at::Tensor>& outputs,
                                            std::vector<at::Tensor>& inputs,
                                            const ::c10d::AllToAllOptions& opts) override;

  // --- point to point, barrier (backend.cc) ---
  c10::intrusive_ptr<::c10d::Work> send(std::vector<at::Tensor>& tensors, int dst,
                                        int tag) override;
  c10::intrusive_ptr<::c10d::Work> recv(std::vector<at::Tensor>& tensors, int src,
                                        int tag) override;
  c10::intrusive_ptr<::c10d::Work> recvAnysource(std::vector<at::Tensor>& tensors,
                                                 int tag) override;
  c10::intrusive_ptr<::c10d::Work> barrier(const ::c10d::BarrierOptions& opts) override;

  // Fails every pending and later operation here and on the other ranks.
  void abort() override;
  // Completes what was issued, then releases the communicator.
  void shutdown() override;

 private:
  // Where an operation on `tensors` (all CPU, or all on this group's GPU)
  // runs: which communicator, with which OpOptions (torch's per-op timeout;
  // for CUDA tensors torch's current stream). Makes the CUDA communicator at
  // the first CUDA operation.
  Target target(const char* op, const std::vector<at::Tensor>& tensors,
                std::chrono::milliseconds timeout);
  // Throws NotImplementedError for `what` on CUDA tensors (weft's CUDA
  // communicator has no allgatherv, alltoallv, gather or scatter), before
  // anything is issued.
  static void host_only(const Target& where, const char* what);
  // Adds the alltoall of the flat `src` into `dst` (`counts` per rank): weft's
  // alltoall for equal blocks, alltoallv otherwise (host memory only; on CUDA
  // tensors host_only(`uneven_what`) refuses it).
  static void add_alltoall(WeftWork& work, const Target& where, const at::Tensor& src,
                           const at::Tensor& dst, const std::vector<size_t>& send_counts,
                           const std::vector<size_t>& recv_counts, DataType type,
                           const char* uneven_what);
  // send (is_send) or recv of `tensors` with `peer`: the same checks and
  // staging, a weft send or recv per tensor.
  c10::intrusive_ptr<::c10d::Work> point_to_point(bool is_send, std::vector<at::Tensor>& tensors,
                                                  int peer, int tag);
  c10::intrusive_ptr<WeftWork> make_work(::c10d::OpType type, const char* op,
                                         std::vector<at::Tensor> outputs, const Target& where);
  // Hands a built Work to the completer and returns it.
  c10::intrusive_ptr<::c10d::Work> launch(c10::intrusive_ptr<WeftWork> work);
  // A torch per-op timeout (kUnsetTimeout: the communicator's) for weft.
  static OpOptions op_options(std::chrono::milliseconds timeout);
  Communicator& comm();
  Communicator& cuda_comm(const char* op, c10::Device device);

  std::shared_ptr<TorchStore> store_;   // outlives the communicators
  std::string name_;                    // weft's name of the host communicator
  std::chrono::milliseconds timeout_;   // the group's
  std::optional<Communicator> comm_;    // host memory; reset by shutdown()
  std::mutex cuda_mu_;                  // making cuda_comm_
  std::optional<Communicator> cuda_comm_;  // made by the first CUDA operation
  std::unique_ptr<Completer> completer_;
};

// Runs an operation body, turning weft::Errors raised while issuing (a
// communicator that already failed, a bad argument) into torch's error.
template <typename F>
auto issuing(const char* op, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error&) {
    throw;
  } catch (...) {
    std::rethrow_exception(to_torch_error(op, std::current_exception()));
  }
}

}  // namespace weft::c10d_ext
