// weft itself: one rank of a weft::Communicator. On host memory (this
// runner) the operations of a batch are launched back to back and waited
// for together, as nccl-tests launches its iterations; rank and world come
// from the environment that weft-perf --np, weftrun or torchrun set. weft on
// the GPUs is gpu_runners.h's weft runner; both issue their calls through
// start_weft_op.
#pragma once

#include <functional>
#include <vector>

#include "runner.h"
#include "weft/communicator.h"

namespace weft::perf {

// How weft calls are issued: the communicator, the options of every call
// (the stream, for a CUDA communicator) and of sendrecv's receive (a second
// stream on GPUs, so send and receive do not wait for each other), and a
// copy within the buffers' memory (memcpy, or an async device copy).
struct WeftCall {
  Communicator* comm = nullptr;
  OpOptions opts;
  OpOptions recv_opts;
  std::function<void(void* dst, const void* src, std::size_t bytes)> copy;
};

// Issues the operation `s` in nccl-tests' layouts (runner.h); returns its
// Work, and appends sendrecv's other Work to `also`.
Work start_weft_op(const WeftCall& call, const OpSpec& s, std::vector<Work>& also);

// The result pointer of `s` on weft (in-place reduce_scatter: recv + rank*count).
const void* weft_result(const OpSpec& s, int rank);

class WeftRunner final : public Runner {
 public:
  explicit WeftRunner(Communicator comm) : comm_(std::move(comm)) {}

  std::string library() const override { return "weft"; }
  int rank() const override { return comm_.rank(); }
  int nranks() const override { return comm_.size(); }
  void barrier() override { comm_.barrier().wait(); }
  double sum_all(double value) override;
  std::vector<std::string> algorithms(Collective c, bool in_place) override;
  Prepared prepare(const OpSpec& spec) override;
  std::string describe() const override;

 private:
  Communicator comm_;
};

}  // namespace weft::perf
