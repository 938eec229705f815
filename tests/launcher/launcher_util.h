// Helpers shared by the launcher tests: run weftrun (or anything) as a real
// process with its output captured in files, and read what the test worker wrote.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "subprocess.h"

namespace weft::test {

using EnvFile = std::map<std::string, std::string>;

// A started process whose stdout/stderr go to files in `dir`.
struct Started {
  Subprocess process;
  std::string out_path;
  std::string err_path;
  std::chrono::steady_clock::time_point start;
};

struct Finished {
  ExitStatus status;
  std::string out;
  std::string err;
  double seconds = 0;
  bool timed_out = false;
};

// `name` tells the output files apart when several processes share `dir`.
Started start_logged(const std::vector<std::string>& argv, const std::string& dir, const std::string& name,
                     const std::vector<std::pair<std::string, std::string>>& env = {});
Finished finish(Started& started, std::chrono::milliseconds timeout);

// weftrun with OMP_NUM_THREADS removed from its environment (tests check the default).
std::vector<std::string> weftrun_argv(const std::vector<std::string>& args);
std::vector<std::string> worker_argv(const std::vector<std::string>& args);

// DIR/rank_<rank>.env as a map; empty when missing.
EnvFile read_env_file(const std::string& dir, int rank);
// Waits until DIR/rank_<r>.env exists for every r < count.
bool wait_env_files(const std::string& dir, int count, std::chrono::milliseconds timeout);
bool process_alive(int pid);
// A TCP port that was free a moment ago, below the kernel's ephemeral range
// (32768+) so that no client connection can take it before weftrun binds it.
int free_port();
size_t count_occurrences(const std::string& text, const std::string& what);

}  // namespace weft::test
