#include "launcher.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "child_process.h"
#include "weft/error.h"

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
    std::string tmpl = (fs::temp_directory_path() / "weft-compare-XXXXXX").string();
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

std::string format_size(std::uint64_t b) { return std::to_string(b); }

// The sweep arguments every comparator accepts.
std::vector<std::string> sweep_args(const CompareSpec& s, Collective c) {
  return {to_string(c),
          "-b", format_size(s.min_bytes),
          "-e", format_size(s.max_bytes),
          "-f", std::to_string(s.factor),
          "-d", to_string(s.dtype),
          "-o", to_string(s.op),
          "-n", std::to_string(s.iters),
          "-w", std::to_string(s.warmup),
          "-c", s.check ? "1" : "0",
          "-r", std::to_string(s.root),
          "--algo", s.algo};
}

std::string comparator_path(const CompareSpec& s, const std::string& name) {
  std::string dir = s.bin_dir.empty() ? executable_dir() : s.bin_dir;
  std::string path = (fs::path(dir) / name).string();
  if (::access(path.c_str(), X_OK) != 0) {
    throw_error(ErrorCode::Unsupported,
                str(name, " not found in ", dir,
                    " (was it built? it needs libgloo-dev / libopenmpi-dev: scripts/setup.sh)"));
  }
  return path;
}

void validate(const CompareSpec& s) {
  WEFT_REQUIRE(s.nranks >= 1, "compare: nranks must be >= 1, got ", s.nranks);
  WEFT_REQUIRE(!s.collectives.empty(), "compare: no collective given");
  WEFT_REQUIRE(s.min_bytes > 0 && s.min_bytes <= s.max_bytes && s.factor >= 2,
               "compare: need 0 < min_bytes <= max_bytes and factor >= 2");
}

// Waits for every process; returns rank 0's result or throws naming the
// first rank that failed.
// Process r's output files are <tag>-rank<r>.out / .err.
std::string out_file(const RunDir& dir, const std::string& tag, std::size_t r, const char* ext) {
  return dir.file(str(tag, "-rank", r, ext));
}

Result collect(std::vector<ChildProcess>& procs, const RunDir& dir, const CompareSpec& s,
               const std::string& what, const std::string& tag, const std::string& json) {
  auto deadline = std::chrono::steady_clock::now() + s.timeout;
  std::vector<int> codes(procs.size(), -1);
  for (std::size_t r = 0; r < procs.size(); ++r) {
    auto code = procs[r].wait_until(deadline);
    if (!code) {
      for (auto& p : procs) p.kill();
      throw_error(ErrorCode::Timeout,
                  str(what, ": still running after ", s.timeout.count(), " s; killed. ",
                      "Process ", r, " stderr: ", tail(read_text(out_file(dir, tag, r, ".err")))));
    }
    codes[r] = *code;
  }
  if (s.echo) std::cout << read_text(out_file(dir, tag, 0, ".out")) << std::flush;
  for (std::size_t r = 0; r < procs.size(); ++r) {
    // Exit code 1: the run finished but a check failed; the JSON says where.
    if (codes[r] != 0 && codes[r] != 1) {
      throw_error(ErrorCode::SystemError,
                  str(what, ": process ", r, " exited with code ", codes[r], ": ",
                      tail(read_text(out_file(dir, tag, r, ".err")))));
    }
  }
  return read_result_file(json);
}

}  // namespace

std::vector<Result> run_gloo(const CompareSpec& s) {
  validate(s);
  const std::string exe = comparator_path(s, "weft-perf-gloo");
  RunDir dir(s.keep_dir);
  std::vector<Result> results;
  for (Collective c : s.collectives) {
    // A fresh FileStore per run: stale keys from an earlier run would pair
    // ranks with processes that no longer exist.
    std::string store = dir.file(str("gloo-store-", to_string(c)));
    fs::remove_all(store);
    fs::create_directories(store);
    std::string json = dir.file(str("gloo-", to_string(c), ".json"));
    const std::string tag = str("gloo-", to_string(c));
    std::vector<ChildProcess> procs;
    for (int r = 0; r < s.nranks; ++r) {
      std::vector<std::string> argv;
      if (s.rank_prefix) argv = s.rank_prefix(r);
      argv.push_back(exe);
      for (auto& a : sweep_args(s, c)) argv.push_back(a);
      argv.insert(argv.end(), {"--store-dir", store, "--rank", std::to_string(r), "--nranks",
                               std::to_string(s.nranks)});
      if (!s.gloo_iface.empty()) argv.insert(argv.end(), {"--iface", s.gloo_iface});
      if (!s.gloo_hostname.empty()) argv.insert(argv.end(), {"--hostname", s.gloo_hostname});
      if (r == 0) argv.insert(argv.end(), {"--json", json});
      ChildProcess::Options o;
      o.stdout_path = out_file(dir, tag, r, ".out");
      o.stderr_path = out_file(dir, tag, r, ".err");
      procs.push_back(ChildProcess::spawn(argv, o));
    }
    results.push_back(collect(procs, dir, s, str("gloo ", to_string(c)), tag, json));
  }
  return results;
}

std::vector<Result> run_mpi(const CompareSpec& s) {
  validate(s);
  const std::string exe = comparator_path(s, "weft-perf-mpi");
  const std::string mpirun = find_in_path(s.mpirun);
  if (mpirun.empty()) {
    throw_error(ErrorCode::Unsupported,
                str(s.mpirun, " not found (install openmpi-bin: scripts/setup.sh)"));
  }
  RunDir dir(s.keep_dir);
  std::vector<Result> results;
  for (Collective c : s.collectives) {
    std::string json = dir.file(str("mpi-", to_string(c), ".json"));
    std::vector<std::string> argv = {mpirun, "--allow-run-as-root", "--oversubscribe"};
    argv.insert(argv.end(), s.mpirun_args.begin(), s.mpirun_args.end());
    if (!s.rank_prefix) argv.insert(argv.end(), {"-np", std::to_string(s.nranks)});
    std::vector<std::string> app = {exe};
    for (auto& a : sweep_args(s, c)) app.push_back(a);
    app.insert(app.end(), {"--json", json});
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
    ChildProcess::Options o;
    o.env = s.mpirun_env;
    // mpirun forwards every rank's stdout; only rank 0 prints.
    const std::string tag = str("mpi-", to_string(c));
    o.stdout_path = out_file(dir, tag, 0, ".out");
    o.stderr_path = out_file(dir, tag, 0, ".err");
    std::vector<ChildProcess> procs;
    procs.push_back(ChildProcess::spawn(argv, o));
    results.push_back(collect(procs, dir, s, str("mpi ", to_string(c)), tag, json));
  }
  return results;
}

std::vector<Result> run_comparator(const std::string& library, const CompareSpec& spec) {
  if (library == "gloo") return run_gloo(spec);
  if (library == "mpi") return run_mpi(spec);
  throw_error(ErrorCode::InvalidArgument,
              str("unknown comparator \"", library, "\" (known: gloo, mpi)"));
}

}  // namespace weft::perf
