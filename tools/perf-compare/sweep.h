// The nccl-tests-like sweep shared by the comparator executables
// (weft-perf-gloo, weft-perf-mpi): sizes, buffers, warm-up, timing, exact
// checks, the table and the JSON. A library plugs in through `Backend`.
//
// Buffers are allocated once, at the largest size, and pre-faulted: a fresh
// page costs ~10 µs on these VMs, and glibc maps/unmaps allocations >= 32 MiB
// on every malloc, so per-size or per-iteration allocation would measure the
// kernel, not the library.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "result.h"
#include "weft/dtype.h"

namespace CLI {
class App;
}

namespace weft::perf {

struct SweepOptions {
  Collective collective = Collective::allreduce;
  std::uint64_t min_bytes = 32 * 1024 * 1024;  // nccl-tests' defaults
  std::uint64_t max_bytes = 32 * 1024 * 1024;
  std::uint64_t factor = 2;
  DataType dtype = DataType::f32;
  ReduceOp op = ReduceOp::sum;
  int iters = 20;
  int warmup = 5;
  bool check = true;
  int root = 0;
  std::string algo = "best";  // "best" tries every algorithm and reports the fastest
  std::string json_path;      // written by rank 0 when set
  bool corrupt = false;       // test hook: spoil one result element so the check must fail
};

// Adds the common options (collective, -b -e -f -d -o -n -w -c -r --algo --json)
// to `app`, bound to `options`.
void add_sweep_options(CLI::App& app, SweepOptions& options);
// Validates `options` (after parsing); throws InvalidArgument.
void validate(const SweepOptions& options);

// One prepared operation (algorithm objects built, buffers registered); run()
// executes one call. Preparing is not timed.
class Op {
 public:
  virtual ~Op() = default;
  virtual void run() = 0;
};

// Where the inputs and outputs of one operation live.
//  out-of-place: input in `send`, output in `recv`;
//  in-place (nccl-tests' layout): `recv` only; allgather's input is at
//  recv + rank*count, reduce_scatter's input is the whole of `recv`.
// `result` is where the library leaves the output: recv for everything except
// in-place reduce_scatter, where libraries differ (MPI and Gloo: recv + 0,
// NCCL: recv + rank*count); the backend sets it.
struct OpSpec {
  Collective collective;
  std::string algo;
  DataType dtype;
  ReduceOp op;
  void* send = nullptr;
  void* recv = nullptr;
  std::size_t count = 0;  // per-rank count for allgather / reduce_scatter
  bool in_place = false;
  int root = 0;
};

struct Prepared {
  std::unique_ptr<Op> op;
  const void* result = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
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
  virtual void warm_up(std::size_t /*max_bytes*/) {}
  // One line describing the library build / transport, for the table header.
  virtual std::string describe() const = 0;
};

// Runs the sweep, prints the table on rank 0, writes the JSON on rank 0 and
// returns the result (on every rank; time and wrong are global).
Result run_sweep(Backend& backend, const SweepOptions& options);

// The process exit code for a finished sweep: 0, or 1 when a check failed.
int exit_code(const Result& result);

}  // namespace weft::perf
