// weft-perf-mpi: the nccl-tests-like sweep on Open MPI, one process per rank,
// started by mpirun:
//
//   mpirun --allow-run-as-root --oversubscribe -np 2 weft-perf-mpi allreduce -b 1K -e 64M
//
// Within a host Open MPI uses shared memory (btl vader); across network
// namespaces pass --mca btl tcp,self --mca btl_tcp_if_include <veth> to mpirun.
#include <malloc.h>

#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "runners/mpi_runner.h"
#include "sweep.h"

int main(int argc, char** argv) {
  weft::perf::SweepOptions options;
  bool malloc_default = false;
  CLI::App app{"Open MPI collectives benchmark, nccl-tests-like; run under mpirun"};
  weft::perf::add_sweep_options(app, options);
  app.add_flag("--malloc-default", malloc_default,
               "leave glibc's malloc thresholds alone (Open MPI's temporaries >= 32 MiB are "
               "then mmapped and faulted in on every call)");
  CLI11_PARSE(app, argc, argv);

  std::string malloc_note;
  if (!malloc_default) {
    // Open MPI allocates its reduction temporaries per call. glibc serves
    // allocations >= 32 MiB with a fresh mmap each time, and faulting in a
    // fresh page costs ~10 µs on these VMs: 64 MiB allreduce would drop from
    // ~8 to ~0.6 GB/s. Keeping large blocks on the heap gives Open MPI its
    // best case, which is what we compare against.
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    malloc_note = "glibc M_MMAP_THRESHOLD and M_TRIM_THRESHOLD raised to 1 GiB";
  }

  MPI_Init(&argc, &argv);
  int rc = 2;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  try {
    weft::perf::validate(options);
    weft::perf::MpiRunner runner;
    runner.malloc_note = malloc_note;
    auto result = weft::perf::run_sweep(runner, options);
    rc = weft::perf::exit_code(result);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-perf-mpi: rank %d: %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Finalize();
  return rc;
}
