// Runs the comparators (weft-perf-gloo, weft-perf-mpi) as N local processes
// and returns their results, for `weft-perf --compare gloo,mpi`.
//
//   weft::perf::CompareSpec spec;
//   spec.collectives = {Collective::allreduce};
//   spec.min_bytes = 1 << 10; spec.max_bytes = 64 << 20; spec.nranks = 2;
//   auto gloo = weft::perf::run_gloo(spec);   // one Result per collective
//   auto mpi  = weft::perf::run_mpi(spec);
//
// Each run gets a fresh temporary directory (gloo's FileStore, the JSON,
// the ranks' output), removed afterwards unless `keep_dir` is set.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "result.h"
#include "weft/dtype.h"

namespace weft::perf {

struct CompareSpec {
  std::vector<Collective> collectives = {Collective::allreduce};
  std::uint64_t min_bytes = 1 << 10;
  std::uint64_t max_bytes = 64 << 20;
  std::uint64_t factor = 2;
  DataType dtype = DataType::f32;
  ReduceOp op = ReduceOp::sum;
  int iters = 20;
  int warmup = 5;
  bool check = true;
  int root = 0;
  int nranks = 2;
  std::string algo = "best";  // gloo: an algorithm name or best; mpi: default
  std::chrono::seconds timeout{600};  // per collective, for all ranks together

  // Where the comparator executables are; empty: next to this executable.
  std::string bin_dir;
  // Print rank 0's table (the comparator's stdout) to our stdout as it finishes.
  bool echo = false;
  // Keep the ranks' output (<lib>-<collective>-rank<R>.out/.err) and JSON here; empty:
  // a temporary directory that is removed.
  std::string keep_dir;

  // An optional command prefix per rank (e.g. {"ip","netns","exec","ns1"}):
  // Gloo ranks are started under it; MPI ranks get one mpirun app context
  // each ("-np 1 <prefix> weft-perf-mpi ... : -np 1 ...").
  std::function<std::vector<std::string>(int rank)> rank_prefix;

  // Gloo: interface or address to bind (see weft-perf-gloo --iface/--hostname).
  std::string gloo_iface;
  std::string gloo_hostname;

  // MPI: the mpirun to use, extra arguments and environment for it, e.g. for
  // ranks in network namespaces joined by bridge br0 (see README.md):
  //   args {"--mca","btl","tcp,self","--mca","btl_tcp_if_include","10.231.1.0/24",
  //         "--mca","oob_tcp_if_include","br0"}
  //   env  {{"PMIX_MCA_ptl_tcp_if_include","br0"},{"PMIX_MCA_ptl_tcp_remote_connections","1"}}
  std::string mpirun = "mpirun";
  std::vector<std::string> mpirun_args;
  std::vector<std::pair<std::string, std::string>> mpirun_env;
  bool mpi_malloc_default = false;  // see weft-perf-mpi --malloc-default
};

// Throw weft::Error: InvalidArgument for a bad spec, Unsupported when the
// comparator was not built or mpirun is missing, SystemError / Timeout when a
// rank fails or hangs (the message carries the tail of its stderr). A run
// whose checks found wrong values is returned, not thrown: see Row::wrong.
std::vector<Result> run_gloo(const CompareSpec& spec);
std::vector<Result> run_mpi(const CompareSpec& spec);

// Dispatch by library name ("gloo" or "mpi").
std::vector<Result> run_comparator(const std::string& library, const CompareSpec& spec);

}  // namespace weft::perf
