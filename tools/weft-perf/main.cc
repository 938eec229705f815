// weft-perf: nccl-tests-like measurements of weft's collectives, and of the
// libraries users would pick instead, in the same invocation.
//
//   weft-perf allreduce -b 1K -e 64M --np 4                      weft alone
//   weft-perf allreduce -b 1K -e 64M --np 4 --compare gloo,mpi --plot ar.png --limits
//   weft-perf allreduce -b 8 -e 256M --np 8 --compare nccl --graph   (GPU machine: weft -g)
//   weftrun --nproc-per-node 4 weft-perf allreduce ...           (one rank per process)
//
// With --np N this process is the driver: it starts N ranks of each library
// (launcher.h) with the same sweep, prints each library's table as its rank 0
// finishes it, then the side-by-side table with busbw ratios (weft / each),
// a "# wrong: N (library)" line per library, the plot and the limits.
// Without --np it is one rank (RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT)
// of the library named by --runner (weft by default).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "launcher.h"
#include "libraries.h"
#include "machine_limits.h"
#include "plot.h"
#include "runners/gpu_runners.h"
#include "runners/weft_runner.h"
#include "side_by_side.h"
#include "sweep.h"
#include "weft/communicator.h"
#include "weft/error.h"

namespace {

using namespace weft::perf;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct DriverOptions {
  int np = 0;
  std::string compare, plot, runner, netns, bridge, subnet, mpirun_args;
  bool limits = false, in_place = false, gpu = false;
  int timeout_s = 600;
};

const char* const kGraphNeedsGpu = "--graph applies to GPU runs: use it with -g or --compare nccl";

// One rank of one library, in this process.
int run_rank(const SweepOptions& sweep, const std::string& runner, bool gpu,
             const std::string& nccl_lib) {
  if (runner == "nccl") return exit_code(run_sweep(*make_nccl_runner(nccl_lib, sweep.graph), sweep));
  WEFT_REQUIRE(runner == "weft", "--runner must be weft or nccl (gloo and mpi run as ",
               "weft-perf-gloo / weft-perf-mpi), got \"", runner, "\"");
  if (gpu) {
    return exit_code(run_sweep(*make_weft_gpu_runner(sweep.graph, sweep.register_buffers), sweep));
  }
  WEFT_REQUIRE(!sweep.graph, kGraphNeedsGpu);
  WeftRunner r(weft::Communicator::init_from_env());
  return exit_code(run_sweep(r, sweep));
}

// Fails before anything runs when a requested piece cannot work.
void preflight(const std::vector<std::string>& libs, const LaunchSpec& spec,
               const DriverOptions& d) {
  for (const auto& lib : libs) {
    require_supported(library_info(lib), spec.sweep.collective, spec.sweep.dtype, spec.sweep.op);
  }
  if (!d.plot.empty()) require_gnuplot();
  WEFT_REQUIRE(!spec.sweep.graph || spec.gpu, kGraphNeedsGpu);
  for (const auto& lib : libs) {
    WEFT_REQUIRE(!spec.gpu || lib == "weft" || lib == "nccl", lib,
                 " runs on host memory and weft here on the GPUs (-g / --compare nccl): "
                 "compare them in separate runs");
    if (lib == "nccl") nccl_preflight(spec.nccl_lib);
  }
  WEFT_REQUIRE(!spec.gpu || !d.limits,
               "--limits measures host memory bandwidth; it has no bound for GPU runs");
  if (spec.gpu) gpu_preflight(spec.nranks);
}

int drive(const SweepOptions& sweep, const DriverOptions& d, LaunchSpec spec) {
  spec.sweep = sweep;
  spec.nranks = d.np;
  spec.echo = true;
  spec.timeout = std::chrono::seconds(d.timeout_s);
  spec.mpirun_args = split(d.mpirun_args, ' ');
  if (!d.netns.empty()) {
    auto names = split(d.netns, ',');
    spec.rank_prefix = [names](int r) {
      return std::vector<std::string>{"ip", "netns", "exec", names[r % names.size()]};
    };
  }
  if (!d.bridge.empty()) {
    WEFT_REQUIRE(!d.subnet.empty(), "--bridge needs --subnet");
    for (const char* a : {"--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include"}) {
      spec.mpirun_args.push_back(a);
    }
    spec.mpirun_args.push_back(d.subnet);
    spec.mpirun_args.insert(spec.mpirun_args.end(), {"--mca", "oob_tcp_if_include", d.bridge});
    spec.mpirun_env = {{"PMIX_MCA_ptl_tcp_if_include", d.bridge},
                       {"PMIX_MCA_ptl_tcp_remote_connections", "1"}};
  }
  std::vector<std::string> libs = {"weft"};
  for (const auto& name : split(d.compare, ',')) {
    library_info(name);  // unknown names fail here, before anything runs
    WEFT_REQUIRE(name != "weft", "--compare lists the other libraries; weft always runs");
    if (std::find(libs.begin(), libs.end(), name) == libs.end()) libs.push_back(name);
  }
  // NCCL runs one process per GPU: weft then runs on the GPUs too.
  spec.gpu = d.gpu || std::find(libs.begin(), libs.end(), "nccl") != libs.end();
  preflight(libs, spec, d);

  Bounds bounds;
  if (d.limits) {
    // Before the runs, so they do not compete with it.
    auto figures = measure_limits(d.np);  // memcpy, a+=b, memcpy on np cores at once, TCP loopback
    print_limits(std::cout, figures);
    bounds.single = bound_algbw_gbs(sweep.collective, d.np, find_figure(figures, kMemcpy)->traffic_gbs);
    if (const LimitFigure* shared = find_figure(figures, kMemcpyShared))
      bounds.shared = bound_algbw_gbs(sweep.collective, d.np, shared->traffic_gbs);
    std::cout << "\n" << std::flush;
  }
  std::vector<Result> results;
  for (const auto& lib : libs) {
    results.push_back(run_library(lib, spec));
    std::cout << "\n" << std::flush;
  }
  if (libs.size() > 1 || d.limits) print_side_by_side(std::cout, results, d.in_place, bounds);
  if (!d.plot.empty()) {
    PlotOptions po;
    po.in_place = d.in_place;
    write_plot(d.plot, results, po);
    std::cout << "# plot: " << d.plot << "\n";
  }
  std::uint64_t wrong = 0;
  for (const auto& r : results) wrong += r.total_wrong();
  return wrong == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  SweepOptions sweep;
  DriverOptions d;
  LaunchSpec spec;
  CLI::App app{"weft-perf: nccl-tests-like benchmark of weft's collectives, side by side with "
               "Gloo, Open MPI and NCCL"};
  add_sweep_options(app, sweep);
  app.add_option("--np", d.np, "start this many local ranks of each library (the driver)");
  app.add_option("--compare", d.compare,
                 "comma-separated libraries to run beside weft: gloo, mpi, nccl");
  app.add_option("--plot", d.plot, "draw busbw against size, log-log, into this PNG (gnuplot)");
  app.add_flag("--limits", d.limits,
               "measure single-core memcpy and a+=b first; add each library's fraction of the "
               "memory-bandwidth bound");
  app.add_flag("--in-place", d.in_place, "tabulate and plot the in-place rows");
  app.add_flag("-g,--gpu", d.gpu,
               "run weft on the GPUs, one process per GPU (implied by --compare nccl)");
  app.add_option("--nccl-lib", spec.nccl_lib, "libnccl.so.2 to load (default: $NCCL_LIB, else "
                                              "the loader's libnccl.so.2)");
  app.add_option("--keep-dir", spec.keep_dir, "keep each library's JSON and rank output here");
  app.add_option("--timeout", d.timeout_s, "seconds per library before its ranks are killed");
  app.add_option("--master-addr", spec.master_addr,
                 "address of the store weft's and NCCL's ranks meet at");
  app.add_option("--gloo-iface", spec.gloo_iface, "interface for Gloo's TCP device");
  app.add_option("--mpirun-args", d.mpirun_args, "extra mpirun arguments, space-separated");
  app.add_flag("--mpi-malloc-default", spec.mpi_malloc_default,
               "run Open MPI with glibc's default malloc thresholds");
  app.add_option("--netns", d.netns,
                 "comma-separated network namespaces; rank r runs in the (r mod k)-th");
  app.add_option("--bridge", d.bridge,
                 "root-namespace bridge joining the namespaces: MPI then runs over TCP on "
                 "--subnet, its PMIx and OOB traffic over the bridge");
  app.add_option("--subnet", d.subnet, "the namespaces' subnet for MPI's TCP btl (a.b.c.d/n)");
  app.add_option("--runner", d.runner, "run one rank of this library (set by the driver)")
      ->group("");
  CLI11_PARSE(app, argc, argv);

  try {
    validate(sweep);
    if (d.np > 0 && d.runner.empty()) return drive(sweep, d, spec);
    WEFT_REQUIRE(d.compare.empty() && d.plot.empty() && !d.limits,
                 "--compare, --plot and --limits need --np N (weft-perf then starts every ",
                 "library's ranks)");
    return run_rank(sweep, d.runner.empty() ? "weft" : d.runner, d.gpu, spec.nccl_lib);
  } catch (const std::exception& e) {
    std::cout << std::flush;
    std::fprintf(stderr, "weft-perf: %s\n", e.what());
    return 2;
  }
}
