#include "launcher.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "child_process.h"
#include "libraries.h"
#include "weft/error.h"
#include "weft/store.h"

namespace weft::perf {
namespace {

namespace fs = std::filesystem;

// A working directory for one run: a fresh temporary one (removed at the
// end) or the caller's keep_dir.
class RunDir {
 public:
  explicit RunDir(const std::string& keep) {
    if (!keep.empty()) {
      fs::create_directories(keep);
      path_ = keep;
      return;
    }
    std::string tmpl = (fs::temp_directory_path() / "weft-perf-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw_errno("mkdtemp " + tmpl);
    path_ = tmpl;
    owned_ = true;
  }
  ~RunDir() {
    std::error_code ec;
    if (owned_) fs::remove_all(path_, ec);
  }
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  std::string file(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
  bool owned_ = false;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail(const std::string& text, std::size_t n = 2000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

std::string executable(const LaunchSpec& s, const std::string& name) {
  std::string dir = s.bin_dir.empty() ? executable_dir() : s.bin_dir;
  std::string path = (fs::path(dir) / name).string();
  if (::access(path.c_str(), X_OK) != 0) {
    const bool comparator = name != "weft-perf";
    throw_error(ErrorCode::Unsupported,
                str(name, " not found in ", dir,
                    comparator ? " (was it built? it needs libgloo-dev / libopenmpi-dev: "
                                 "scripts/setup.sh)"
                               : ""));
  }
  return path;
}

// One library run: its directory, the processes, how to wait for them.
class Run {
 public:
  Run(const std::string& library, const LaunchSpec& s)
      : s_(s), dir_(s.keep_dir), tag_(str(library, "-", to_string(s.sweep.collective))),
        json_(dir_.file(tag_ + ".json")) {}

  const std::string& json() const { return json_; }
  std::string file(const std::string& name) const { return dir_.file(name); }

  // Process `index`'s output goes to <tag>-rank<index>.out/.err (rank 0's
  // stdout to ours when echoing).
  void spawn(const std::vector<std::string>& argv,
             std::vector<std::pair<std::string, std::string>> env = {}) {
    ChildProcess::Options o;
    o.env = std::move(env);
    const std::size_t index = procs_.size();
    if (index != 0 || !s_.echo) o.stdout_path = out_file(index, ".out");
    o.stderr_path = out_file(index, ".err");
    procs_.push_back(ChildProcess::spawn(argv, o));
  }

  // Waits for every process; returns rank 0's result or throws naming the
  // first process that failed.
  Result collect(const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() + s_.timeout;
    std::vector<int> codes(procs_.size(), -1);
    for (std::size_t r = 0; r < procs_.size(); ++r) {
      auto code = procs_[r].wait_until(deadline);
      if (!code) {
        for (auto& p : procs_) p.kill();
        throw_error(ErrorCode::Timeout,
                    str(what, ": still running after ", s_.timeout.count(), " s; killed. ",
                        "Process ", r, " stderr: ", tail(read_text(out_file(r, ".err")))));
      }
      codes[r] = *code;
    }
    std::cout << std::flush;
    for (std::size_t r = 0; r < procs_.size(); ++r) {
      // Exit code 1: the run finished but a check failed; the JSON says where.
      if (codes[r] != 0 && codes[r] != 1) {
        throw_error(ErrorCode::SystemError,
                    str(what, ": process ", r, " exited with code ", codes[r], ": ",
                        tail(read_text(out_file(r, ".err")))));
      }
    }
    return read_result_file(json_);
  }

 private:
  std::string out_file(std::size_t index, const char* ext) const {
    return dir_.file(str(tag_, "-rank", index, ext));
  }

  const LaunchSpec& s_;
  RunDir dir_;
  std::string tag_, json_;
  std::vector<ChildProcess> procs_;
};

std::vector<std::string> with_prefix(const LaunchSpec& s, int rank) {
  return s.rank_prefix ? s.rank_prefix(rank) : std::vector<std::string>{};
}

// weft and NCCL: copies of weft-perf (--runner) around a store hosted here.
Result run_self(const std::string& library, const LaunchSpec& s) {
  const std::string exe = executable(s, "weft-perf");
  StoreServerOptions so;
  so.host = s.master_addr;
  so.port = 0;
  auto server = StoreServer::start(so);
  Run run(library, s);
  for (int r = 0; r < s.nranks; ++r) {
    std::vector<std::string> argv = with_prefix(s, r);
    argv.push_back(exe);
    for (auto& a : sweep_args(s.sweep)) argv.push_back(a);
    argv.insert(argv.end(), {"--runner", library});
    if (library == "weft" && s.gpu) argv.push_back("-g");
    if (library == "nccl" && !s.nccl_lib.empty()) argv.insert(argv.end(), {"--nccl-lib", s.nccl_lib});
    if (r == 0) argv.insert(argv.end(), {"--json", run.json()});
    std::vector<std::pair<std::string, std::string>> env = {
        {"RANK", std::to_string(r)},          {"WORLD_SIZE", std::to_string(s.nranks)},
        {"LOCAL_RANK", std::to_string(r)},    {"LOCAL_WORLD_SIZE", std::to_string(s.nranks)},
        {"MASTER_ADDR", s.master_addr},       {"MASTER_PORT", std::to_string(server->port())}};
    // NVLink multicast (NVLS) is forbidden on the lent GPU machines.
    if (library == "nccl") env.emplace_back("NCCL_NVLS_ENABLE", "0");
    run.spawn(argv, env);
  }
  return run.collect(str(library, " ", to_string(s.sweep.collective)));
}

Result run_gloo(const LaunchSpec& s) {
  const std::string exe = executable(s, "weft-perf-gloo");
  Run run("gloo", s);
  // A fresh FileStore per run: stale keys from an earlier run would pair
  // ranks with processes that no longer exist.
  const std::string store = run.file(str("gloo-store-", to_string(s.sweep.collective)));
  fs::remove_all(store);
  fs::create_directories(store);
  for (int r = 0; r < s.nranks; ++r) {
    std::vector<std::string> argv = with_prefix(s, r);
    argv.push_back(exe);
    for (auto& a : sweep_args(s.sweep)) argv.push_back(a);
    argv.insert(argv.end(), {"--store-dir", store, "--rank", std::to_string(r), "--nranks",
                             std::to_string(s.nranks)});
    if (!s.gloo_iface.empty()) argv.insert(argv.end(), {"--iface", s.gloo_iface});
    if (!s.gloo_hostname.empty()) argv.insert(argv.end(), {"--hostname", s.gloo_hostname});
    if (r == 0) argv.insert(argv.end(), {"--json", run.json()});
    run.spawn(argv);
  }
  return run.collect(str("gloo ", to_string(s.sweep.collective)));
}

Result run_mpi(const LaunchSpec& s) {
  const std::string exe = executable(s, "weft-perf-mpi");
  const std::string mpirun = find_in_path(s.mpirun);
  if (mpirun.empty()) {
    throw_error(ErrorCode::Unsupported,
                str(s.mpirun, " not found (install openmpi-bin: scripts/setup.sh)"));
  }
  Run run("mpi", s);
  std::vector<std::string> argv = {mpirun, "--allow-run-as-root", "--oversubscribe"};
  argv.insert(argv.end(), s.mpirun_args.begin(), s.mpirun_args.end());
  if (!s.rank_prefix) argv.insert(argv.end(), {"-np", std::to_string(s.nranks)});
  std::vector<std::string> app = {exe};
  for (auto& a : sweep_args(s.sweep)) app.push_back(a);
  app.insert(app.end(), {"--json", run.json()});
  if (s.mpi_malloc_default) app.push_back("--malloc-default");
  if (!s.rank_prefix) {
    argv.insert(argv.end(), app.begin(), app.end());
  } else {
    // One app context per rank (MPMD), each under its own prefix.
    for (int r = 0; r < s.nranks; ++r) {
      if (r > 0) argv.push_back(":");
      argv.insert(argv.end(), {"-np", "1"});
      for (auto& p : s.rank_prefix(r)) argv.push_back(p);
      argv.insert(argv.end(), app.begin(), app.end());
    }
  }
  // mpirun forwards every rank's stdout; only rank 0 prints. Open MPI refuses
  // root without --allow-run-as-root; the environment variables say the same
  // to the ranks mpirun starts through a prefix.
  auto env = s.mpirun_env;
  env.emplace_back("OMPI_ALLOW_RUN_AS_ROOT", "1");
  env.emplace_back("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
  run.spawn(argv, env);
  return run.collect(str("mpi ", to_string(s.sweep.collective)));
}

}  // namespace

Result run_library(const std::string& library, const LaunchSpec& s) {
  const LibraryInfo& lib = library_info(library);  // throws for an unknown name
  validate(s.sweep);
  WEFT_REQUIRE(s.nranks >= 1, "nranks must be >= 1, got ", s.nranks);
  require_supported(lib, s.sweep.collective, s.sweep.dtype, s.sweep.op);
  if (library == "gloo") return run_gloo(s);
  if (library == "mpi") return run_mpi(s);
  return run_self(library, s);
}

}  // namespace weft::perf
