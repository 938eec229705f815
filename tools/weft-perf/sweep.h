// The nccl-tests-like sweep every runner shares (weft, Gloo, Open MPI, NCCL):
// sizes, buffers, inputs, warm-up, timing, exact checks, the table and the
// JSON. A library plugs in through `Runner` (runner.h).
//
// Checks use the collective checker's values and references
// (collcheck.h): integer-valued inputs, exact in every dtype (avg on floats
// within one rounding), so every dtype and op a library supports is checked.
//
// Buffers are allocated once, at the largest size, and pre-faulted: a fresh
// page costs ~10 µs on these VMs, and glibc maps/unmaps allocations >= 32 MiB
// on every malloc, so per-size or per-iteration allocation would measure the
// kernel, not the library.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "result.h"
#include "runner.h"
#include "weft/dtype.h"

namespace CLI {
class App;
}

namespace weft::perf {

struct SweepOptions {
  Collective collective = Collective::allreduce;
  std::uint64_t min_bytes = 8;
  std::uint64_t max_bytes = 64 * 1024 * 1024;
  std::uint64_t factor = 2;
  DataType dtype = DataType::f32;
  ReduceOp op = ReduceOp::sum;
  int iters = 20;
  int warmup = 5;
  bool check = true;
  int root = 0;
  std::string algo = "best";  // "best" tries every algorithm and reports the fastest
  bool graph = false;         // GPU runners: time CUDA-graph replays of each batch
  bool blocking = false;      // wait for each call before the next (a latency, as MPI's calls are)
  bool register_buffers = false;  // weft on GPUs: register the buffers (zero-copy)
  std::string json_path;      // written by rank 0 when set
  bool corrupt = false;       // test hook: spoil one result element so the check must fail
};

// Adds the common options (collective, -b -e -f -d -o -n -w -c -r --algo
// --graph --blocking --json) to `app`, bound to `options`.
void add_sweep_options(CLI::App& app, SweepOptions& options);
// Validates `options` (after parsing); throws InvalidArgument.
void validate(const SweepOptions& options);
// The command-line arguments that give another process the same sweep (every
// option above but --json).
std::vector<std::string> sweep_args(const SweepOptions& options);

// Runs the sweep, prints the table on rank 0, writes the JSON on rank 0 and
// returns the result (on every rank; time and wrong are global). Throws
// Unsupported when the runner's library lacks the collective, dtype or op.
Result run_sweep(Runner& runner, const SweepOptions& options);

// The process exit code for a finished sweep: 0, or 1 when a check failed.
int exit_code(const Result& result);

}  // namespace weft::perf
