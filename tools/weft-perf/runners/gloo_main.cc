// weft-perf-gloo: the nccl-tests-like sweep on Gloo (TCP), one process per
// rank. Rank and world size come from --rank/--nranks or RANK/WORLD_SIZE;
// ranks meet through a gloo FileStore in a shared directory (works across
// network namespaces of one host: they share the filesystem).
//
//   RANK=0 WORLD_SIZE=2 weft-perf-gloo allreduce -b 1K -e 64M --store-dir /tmp/s &
//   RANK=1 WORLD_SIZE=2 weft-perf-gloo allreduce -b 1K -e 64M --store-dir /tmp/s
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "runners/gloo_runner.h"
#include "sweep.h"
#include "weft/error.h"

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  weft::perf::SweepOptions options;
  weft::perf::GlooConfig config;
  config.rank = env_int("RANK", 0);
  config.nranks = env_int("WORLD_SIZE", 1);
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) config.iface = ifname;
  int timeout_s = 60;

  CLI::App app{"Gloo (TCP) collectives benchmark, nccl-tests-like; one process per rank"};
  weft::perf::add_sweep_options(app, options);
  app.add_option("--rank", config.rank, "this process's rank (default: $RANK)");
  app.add_option("--nranks", config.nranks, "world size (default: $WORLD_SIZE)");
  app.add_option("--store-dir", config.store_dir,
                 "shared directory for gloo's FileStore rendezvous (fresh per run)")
      ->required();
  app.add_option("--prefix", config.prefix, "key prefix inside the store");
  app.add_option("--iface", config.iface,
                 "bind the TCP device to this interface (default: $GLOO_SOCKET_IFNAME)");
  app.add_option("--hostname", config.hostname,
                 "bind the TCP device to this address when no interface is given");
  app.add_option("--timeout", timeout_s, "seconds before a rendezvous or collective fails");
  CLI11_PARSE(app, argc, argv);
  config.timeout = std::chrono::seconds(timeout_s);

  try {
    weft::perf::validate(options);
    weft::perf::GlooRunner runner(config);
    auto result = weft::perf::run_sweep(runner, options);
    return weft::perf::exit_code(result);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-perf-gloo: rank %d: %s\n", config.rank, e.what());
    return 2;
  }
}
