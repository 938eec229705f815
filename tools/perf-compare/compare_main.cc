// weft-perf-compare: runs the comparators side by side, the way
// `weft-perf --compare gloo,mpi --plot FILE.png --limits` will (the pieces are
// in launcher.h, side_by_side.h, plot.h and machine_limits.h).
//
//   weft-perf-compare allreduce -b 1K -e 64M --np 2 --libs gloo,mpi --plot ar.png --limits
#include <cstdio>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "launcher.h"
#include "machine_limits.h"
#include "plot.h"
#include "side_by_side.h"
#include "weft/error.h"

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  weft::perf::CompareSpec spec;
  std::string collective = "allreduce", libs = "gloo,mpi", plot, dtype = "f32", op = "sum";
  std::string min_b = "1K", max_b = "64M", json_dir, mpi_args;
  bool limits = false, in_place = false, limits_only = false;
  CLI::App app{"Runs Gloo and Open MPI side by side (the comparator half of weft-perf --compare)"};
  app.add_option("collective", collective, "allreduce | allgather | reduce_scatter | broadcast");
  app.add_option("-b,--minbytes", min_b, "smallest size");
  app.add_option("-e,--maxbytes", max_b, "largest size");
  app.add_option("-f,--stepfactor", spec.factor, "size multiplier");
  app.add_option("-d,--datatype", dtype, "f32 | f64 | i32 | i64");
  app.add_option("-o,--op", op, "sum | min | max");
  app.add_option("-n,--iters", spec.iters, "timed iterations per size");
  app.add_option("-w,--warmup_iters", spec.warmup, "untimed iterations per size");
  app.add_option("-c,--check", spec.check, "check every result exactly");
  app.add_option("--np", spec.nranks, "number of ranks");
  app.add_option("--libs,--compare", libs, "comma-separated comparators: gloo,mpi");
  app.add_option("--algo", spec.algo, "gloo algorithm or best");
  app.add_option("--plot", plot, "draw busbw against size into this PNG");
  app.add_flag("--in-place", in_place, "tabulate and plot the in-place rows");
  app.add_flag("--limits", limits, "also measure memory bandwidth and TCP loopback");
  app.add_flag("--limits-only", limits_only, "only measure the limits");
  app.add_option("--keep-dir", json_dir, "keep each run's JSON and rank output here");
  app.add_option("--gloo-iface", spec.gloo_iface, "interface for Gloo's TCP device");
  app.add_option("--mpirun-args", mpi_args, "extra mpirun arguments, space-separated");
  std::string netns, bridge, subnet;
  app.add_option("--netns", netns,
                 "comma-separated network namespaces; rank r runs in the (r mod k)-th");
  app.add_option("--bridge", bridge,
                 "root-namespace bridge joining the namespaces: MPI then runs over TCP on "
                 "--subnet, its PMIx and OOB traffic over the bridge");
  app.add_option("--subnet", subnet, "the namespaces' subnet for MPI's TCP btl (a.b.c.d/n)");
  app.add_flag("--mpi-malloc-default", spec.mpi_malloc_default,
               "run Open MPI with glibc's default malloc thresholds");
  int timeout_s = 600;
  app.add_option("--timeout", timeout_s, "seconds per library and collective");
  CLI11_PARSE(app, argc, argv);

  spec.timeout = std::chrono::seconds(timeout_s);
  try {
    if (limits || limits_only) {
      weft::perf::print_limits(std::cout, weft::perf::measure_limits());
      std::cout << std::flush;
      if (limits_only) return 0;
    }
    auto coll = weft::perf::parse_collective(collective);
    WEFT_REQUIRE(coll.has_value(), "unknown collective ", collective);
    spec.collectives = {*coll};
    spec.min_bytes = weft::perf::parse_bytes(min_b);
    spec.max_bytes = weft::perf::parse_bytes(max_b);
    auto dt = weft::parse_data_type(dtype);
    WEFT_REQUIRE(dt.has_value(), "unknown datatype ", dtype);
    spec.dtype = *dt;
    auto rop = weft::parse_reduce_op(op);
    WEFT_REQUIRE(rop.has_value(), "unknown op ", op);
    spec.op = *rop;
    spec.mpirun_args = split(mpi_args, ' ');
    if (!netns.empty()) {
      auto names = split(netns, ',');
      spec.rank_prefix = [names](int r) {
        return std::vector<std::string>{"ip", "netns", "exec", names[r % names.size()]};
      };
    }
    if (!bridge.empty()) {
      WEFT_REQUIRE(!subnet.empty(), "--bridge needs --subnet");
      for (const char* a : {"--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include"}) {
        spec.mpirun_args.push_back(a);
      }
      spec.mpirun_args.push_back(subnet);
      spec.mpirun_args.insert(spec.mpirun_args.end(), {"--mca", "oob_tcp_if_include", bridge});
      spec.mpirun_env = {{"PMIX_MCA_ptl_tcp_if_include", bridge},
                         {"PMIX_MCA_ptl_tcp_remote_connections", "1"}};
    }
    spec.keep_dir = json_dir;
    spec.echo = true;

    std::vector<weft::perf::Result> results;
    for (const auto& lib : split(libs, ',')) {
      auto r = weft::perf::run_comparator(lib, spec);
      results.insert(results.end(), r.begin(), r.end());
      std::cout << "\n";
    }
    weft::perf::print_side_by_side(std::cout, results, in_place);
    if (!plot.empty()) {
      weft::perf::PlotOptions po;
      po.in_place = in_place;
      weft::perf::write_plot(plot, results, po);
      std::cout << "# plot: " << plot << "\n";
    }
    std::uint64_t wrong = 0;
    for (const auto& r : results) wrong += r.total_wrong();
    std::cout << "# wrong: " << wrong << "\n";
    return wrong == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-perf-compare: %s\n", e.what());
    return 2;
  }
}
