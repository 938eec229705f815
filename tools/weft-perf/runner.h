// The one abstraction every library plugs into weft-perf through: a Runner
// is one rank of one library (weft on host memory, Gloo, Open MPI, NCCL, ...).
// The sweep (sweep.h) owns everything else — sizes, buffers, inputs, warm-up,
// timing, checks, the table and the JSON — so a new library (a GPU runner,
// say) is one new file implementing this interface.
//
// Memory: the sweep asks the runner for its buffers (host memory by default;
// device memory for GPU runners) and moves inputs and results through
// copy_in/copy_out, so checks are the same for every library.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "result.h"
#include "weft/dtype.h"

namespace weft::perf {

// One prepared operation (algorithm objects built, buffers registered).
// Preparing is not timed.
class Op {
 public:
  virtual ~Op() = default;
  // Starts one call. Host libraries may finish it here; GPU runners enqueue it
  // on their stream and return.
  virtual void launch() = 0;
  // Waits until every launched call has finished.
  virtual void complete() {}
  // Called (untimed) before run_batch(n): where a graph runner captures n
  // launches into a CUDA graph.
  virtual void prepare_batch(int n) { (void)n; }
  // n calls back to back, then complete(): what the sweep times.
  virtual void run_batch(int n) {
    for (int i = 0; i < n; ++i) launch();
    complete();
  }
};

// An Op whose calls block and finish in launch(): it runs a callable that
// owns whatever it needs (the blocking host libraries: Gloo, Open MPI).
class FunctionOp final : public Op {
 public:
  explicit FunctionOp(std::function<void()> fn) : fn_(std::move(fn)) {}
  void launch() override { fn_(); }

 private:
  std::function<void()> fn_;
};

// Where the inputs and outputs of one operation live.
//  out-of-place: input in `send`, output in `recv`;
//  in-place (nccl-tests' layout): `recv` only; allgather's input is at
//  recv + rank*count, reduce_scatter's and alltoall's input is the whole of
//  `recv`.
struct OpSpec {
  Collective collective = Collective::allreduce;
  std::string algo;
  DataType dtype = DataType::f32;
  ReduceOp op = ReduceOp::sum;
  void* send = nullptr;
  void* recv = nullptr;
  std::size_t count = 0;  // per-rank count (allgather, reduce_scatter), per-peer (alltoall)
  bool in_place = false;
  int root = 0;
  bool blocking = false;  // each call is waited for before the next (--blocking)
};

struct Prepared {
  std::unique_ptr<Op> op;
  // Where the library leaves this rank's result: recv, except in-place
  // reduce_scatter where libraries differ (MPI and Gloo: recv + 0; weft and
  // NCCL: recv + rank*count).
  const void* result = nullptr;
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual std::string library() const = 0;
  virtual int rank() const = 0;
  virtual int nranks() const = 0;
  virtual void barrier() = 0;
  // Sum of `value` over all ranks, returned on every rank.
  virtual double sum_all(double value) = 0;
  // The algorithms this library has for (collective, placement); empty when it
  // cannot do that placement (e.g. MPI_Bcast has no out-of-place form).
  virtual std::vector<std::string> algorithms(Collective c, bool in_place) = 0;
  virtual Prepared prepare(const OpSpec& spec) = 0;
  // Called once before anything is timed, with the largest buffer size the
  // sweep will use: the place to bring every connection to its best state.
  virtual void warm_up(std::size_t max_bytes) { (void)max_bytes; }
  // One line describing the library build / transport, for the table header.
  virtual std::string describe() const = 0;

  // Buffers the operations run on (pre-faulted host memory by default), and
  // the copies between them and host memory (memcpy by default).
  virtual std::shared_ptr<void> allocate(std::size_t bytes);
  virtual void copy_in(void* dst, const void* host, std::size_t bytes);
  virtual void copy_out(void* host, const void* src, std::size_t bytes);
};

}  // namespace weft::perf
