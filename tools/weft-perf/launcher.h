// Starts one library's ranks as local processes with the same sweep and
// collects rank 0's JSON result: how `weft-perf --np N [--compare ...]` runs
// weft and each comparator in one invocation.
//
//   weft, nccl  N copies of weft-perf itself (--runner weft|nccl) around a
//               store this process hosts (RANK/WORLD_SIZE/MASTER_ADDR/...);
//               NCCL's ranks always get NCCL_NVLS_ENABLE=0
//   gloo        N weft-perf-gloo processes meeting through a FileStore directory
//   mpi         weft-perf-mpi under mpirun (--allow-run-as-root --oversubscribe)
//
// Each run gets a fresh temporary directory (the store directory, the JSON,
// the ranks' output), removed afterwards unless `keep_dir` is set.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "result.h"
#include "sweep.h"

namespace weft::perf {

struct LaunchSpec {
  SweepOptions sweep;  // json_path is ignored: each run writes its own
  int nranks = 2;
  std::chrono::seconds timeout{600};  // per library, for all ranks together

  // Where weft-perf, weft-perf-gloo and weft-perf-mpi are; empty: next to
  // this executable.
  std::string bin_dir;
  // Rank 0's output goes to our stdout as it runs (its table); otherwise to
  // a file in the run directory like the other ranks'.
  bool echo = false;
  // Keep the ranks' output (<lib>-<collective>-rank<R>.out/.err) and JSON
  // here; empty: a temporary directory that is removed.
  std::string keep_dir;

  // An optional command prefix per rank (e.g. {"ip","netns","exec","ns1"}):
  // weft, NCCL and Gloo ranks are started under it; MPI ranks get one mpirun
  // app context each ("-np 1 <prefix> weft-perf-mpi ... : -np 1 ...").
  std::function<std::vector<std::string>(int rank)> rank_prefix;
  // The address weft's and NCCL's store listens on and their ranks dial
  // (a bridge address when ranks live in network namespaces).
  std::string master_addr = "127.0.0.1";

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

  // weft on the GPUs (-g): one process per GPU, device = local rank.
  bool gpu = false;
  // NCCL: the library to dlopen (empty: $NCCL_LIB, else libnccl.so.2).
  std::string nccl_lib;
};

// Runs `library` (weft, gloo, mpi or nccl). Throws weft::Error:
// InvalidArgument for a bad spec or an unknown library, Unsupported when the
// runner was not built or mpirun is missing, SystemError / Timeout when a
// rank fails or hangs (the message carries the tail of its stderr). A run
// whose checks found wrong values is returned, not thrown: see Row::wrong.
Result run_library(const std::string& library, const LaunchSpec& spec);

}  // namespace weft::perf
