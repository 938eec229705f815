// weft-perf: nccl-tests-like measurements of weft's collectives.
//
//   weft-perf allreduce -b 4K -e 64M -f 2 -d f32 -o sum -n 20 -w 5 -c 1 --np 4
//   weftrun --nproc-per-node 4 weft-perf allreduce ...     (one rank per process)
//
// With --np N it spawns N local ranks of itself around an embedded store;
// otherwise it is one rank and reads RANK / WORLD_SIZE / MASTER_ADDR /
// MASTER_PORT. Rank 0 prints nccl-tests' columns (out-of-place, then in
// place) and a last line "# wrong: N" totalling every check (-c 1).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench.h"
#include "weft/communicator.h"
#include "weft/error.h"
#include "weft/store.h"

extern char** environ;

namespace {

using weft::perf::Row;
using weft::perf::Settings;

size_t parse_size(const std::string& text) {
  size_t pos = 0;
  double v = std::stod(text, &pos);
  std::string unit = text.substr(pos);
  double mul = 1;
  if (unit == "K" || unit == "k" || unit == "KB" || unit == "KiB") mul = 1024;
  else if (unit == "M" || unit == "m" || unit == "MB" || unit == "MiB") mul = 1024.0 * 1024;
  else if (unit == "G" || unit == "g" || unit == "GB" || unit == "GiB") mul = 1024.0 * 1024 * 1024;
  else if (!unit.empty() && unit != "B") throw CLI::ValidationError("size", "bad unit in " + text);
  return static_cast<size_t>(v * mul);
}

// --np: re-run this executable N times as ranks 0..N-1 around a store we host.
int spawn_ranks(int np, int argc, char** argv) {
  weft::StoreServerOptions so;
  so.host = "127.0.0.1";
  so.port = 0;
  auto server = weft::StoreServer::start(so);
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--np") {
      ++i;
      continue;
    }
    if (a.rfind("--np=", 0) == 0) continue;
    args.push_back(a);
  }
  std::vector<pid_t> pids;
  for (int r = 0; r < np; ++r) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      if (kv.rfind("RANK=", 0) == 0 || kv.rfind("WORLD_SIZE=", 0) == 0 ||
          kv.rfind("MASTER_ADDR=", 0) == 0 || kv.rfind("MASTER_PORT=", 0) == 0)
        continue;
      env.push_back(kv);
    }
    env.push_back("RANK=" + std::to_string(r));
    env.push_back("WORLD_SIZE=" + std::to_string(np));
    env.push_back("MASTER_ADDR=127.0.0.1");
    env.push_back("MASTER_PORT=" + std::to_string(server->port()));
    std::vector<char*> envp, argp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    for (auto& s : args) argp.push_back(s.data());
    argp.push_back(nullptr);
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argp.data(), envp.data()) != 0) {
      std::perror("posix_spawn");
      for (pid_t p : pids) kill(p, SIGKILL);
      return 1;
    }
    pids.push_back(pid);
  }
  int rc = 0;
  for (size_t done = 0; done < pids.size(); ++done) {
    int status = 0;
    pid_t pid = wait(&status);
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && rc == 0) {
      rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
      std::fprintf(stderr, "weft-perf: rank process %d failed; stopping the others\n", pid);
      for (pid_t p : pids)
        if (p != pid) kill(p, SIGTERM);
    }
  }
  return rc;
}

void print_header(const Settings& s, int world) {
  std::printf("# weft-perf %s: %d ranks, %s, op %s, root %d, %d iterations (%d warmup), check %s\n",
              s.collective.c_str(), world, weft::to_string(s.type), weft::to_string(s.op), s.root,
              s.iters, s.warmup, s.check ? "on" : "off");
  std::printf("#\n");
  std::printf("# %10s %12s %8s %6s %6s   %9s %8s %8s %6s   %9s %8s %8s %6s\n", "", "", "", "",
              "", "out-of-place", "", "", "", "in-place", "", "", "");
  std::printf("# %10s %12s %8s %6s %6s   %9s %8s %8s %6s   %9s %8s %8s %6s\n", "size", "count",
              "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw",
              "#wrong");
  std::printf("# %10s %12s %8s %6s %6s   %9s %8s %8s %6s   %9s %8s %8s %6s\n", "(B)",
              "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)",
              "");
}

std::string wrong_text(long long w) { return w < 0 ? "N/A" : std::to_string(w); }

nlohmann::json timing_json(const weft::perf::Timing& t) {
  return {{"time_us", t.time_us}, {"algbw_GBps", t.algbw}, {"busbw_GBps", t.busbw},
          {"wrong", t.wrong}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft-perf: nccl-tests-like benchmark of weft collectives"};
  Settings s;
  std::string min_text = "8", max_text = "64M", dtype = "f32", op = "sum", json_path;
  int np = 0, check = 1;
  app.add_option("collective", s.collective,
                 "allreduce|allgather|reduce_scatter|broadcast|reduce|alltoall|sendrecv")
      ->required();
  app.add_option("-b,--minbytes", min_text, "Smallest size (e.g. 8, 4K, 1M)");
  app.add_option("-e,--maxbytes", max_text, "Largest size");
  app.add_option("-f,--stepfactor", s.factor, "Size multiplier between rows");
  app.add_option("-d,--datatype", dtype, "f32 f64 f16 bf16 i8 u8 i32 u32 i64 u64");
  app.add_option("-o,--op", op, "sum prod min max avg");
  app.add_option("-r,--root", s.root, "Root rank (broadcast, reduce)");
  app.add_option("-n,--iters", s.iters, "Timed iterations per size");
  app.add_option("-w,--warmup_iters", s.warmup, "Warmup iterations per size");
  app.add_option("-c,--check", check, "Check results (1) or not (0)");
  app.add_option("--np", np, "Spawn this many local ranks with an embedded store");
  app.add_option("--json", json_path, "Also write the results as JSON to this file");
  CLI11_PARSE(app, argc, argv);

  if (!weft::perf::known_collective(s.collective)) {
    std::fprintf(stderr, "weft-perf: unknown collective '%s'\n", s.collective.c_str());
    return 2;
  }
  auto t = weft::parse_data_type(dtype);
  auto o = weft::parse_reduce_op(op);
  if (!t || !o) {
    std::fprintf(stderr, "weft-perf: bad datatype '%s' or op '%s'\n", dtype.c_str(), op.c_str());
    return 2;
  }
  s.type = *t;
  s.op = *o;
  s.check = check != 0;
  s.min_bytes = parse_size(min_text);
  s.max_bytes = parse_size(max_text);
  if (s.factor <= 1) s.factor = 2;
  if (np > 0) return spawn_ranks(np, argc, argv);

  try {
    weft::Communicator comm = weft::Communicator::init_from_env();
    const bool printer = comm.rank() == 0;
    if (printer) print_header(s, comm.size());
    long long total_wrong = 0;
    nlohmann::json rows = nlohmann::json::array();
    for (double b = static_cast<double>(std::max<size_t>(s.min_bytes, 1));
         b <= static_cast<double>(s.max_bytes) * 1.0000001; b *= s.factor) {
      Row row = weft::perf::measure(comm, s, static_cast<size_t>(b));
      for (auto* tm : {&row.out_of_place, &row.in_place})
        if (tm->wrong > 0) total_wrong += tm->wrong;
      const bool rooted = s.collective == "broadcast" || s.collective == "reduce";
      const bool reducing = s.collective == "allreduce" || s.collective == "reduce" ||
                            s.collective == "reduce_scatter";
      if (printer) {
        std::printf("  %10zu %12zu %8s %6s %6s   %9.1f %8.3f %8.3f %6s   %9.1f %8.3f %8.3f %6s\n",
                    row.bytes, row.count, weft::to_string(s.type),
                    reducing ? weft::to_string(s.op) : "none",
                    rooted ? std::to_string(s.root).c_str() : "-", row.out_of_place.time_us,
                    row.out_of_place.algbw, row.out_of_place.busbw,
                    wrong_text(row.out_of_place.wrong).c_str(), row.in_place.time_us,
                    row.in_place.algbw, row.in_place.busbw,
                    wrong_text(row.in_place.wrong).c_str());
        std::fflush(stdout);
      }
      rows.push_back({{"size", row.bytes},
                      {"count", row.count},
                      {"out_of_place", timing_json(row.out_of_place)},
                      {"in_place", timing_json(row.in_place)}});
    }
    if (printer) {
      std::printf("# wrong: %lld\n", total_wrong);
      if (!json_path.empty()) {
        nlohmann::json doc = {{"collective", s.collective},
                              {"ranks", comm.size()},
                              {"datatype", weft::to_string(s.type)},
                              {"op", weft::to_string(s.op)},
                              {"root", s.root},
                              {"iters", s.iters},
                              {"warmup", s.warmup},
                              {"rows", rows},
                              {"wrong", total_wrong}};
        std::ofstream(json_path) << doc.dump(2) << "\n";
      }
    }
    return total_wrong == 0 ? 0 : 1;
  } catch (const weft::Error& e) {
    std::fprintf(stderr, "weft-perf: %s\n", e.what());
    return 1;
  }
}
