// weftrun's command line: torchrun-compatible options, each also readable from
// a PET_<NAME> environment variable (PET_NNODES, PET_NPROC_PER_NODE, ...), and
// their resolution into one fully decided launch plan (which backend, which
// endpoint, who hosts the store, how many workers, what to execute).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace weftrun {

// Which of a worker's streams go somewhere: torchrun's --redirects / --tee
// values 0 (none), 1 (stdout), 2 (stderr), 3 (both), optionally per local rank
// ("0:1,1:2").
struct StreamSelect {
  int all = 0;                       // applies to every local rank not in per_rank
  std::map<int, int> per_rank;       // local rank -> 0..3
  bool out(int local_rank) const { return (value(local_rank) & 1) != 0; }
  bool err(int local_rank) const { return (value(local_rank) & 2) != 0; }
  int value(int local_rank) const {
    auto it = per_rank.find(local_rank);
    return it == per_rank.end() ? all : it->second;
  }
};

struct Options {
  // --- as given (after PET_* fallback) -------------------------------------
  int nnodes_min = 1;
  int nnodes_max = 1;
  std::string nproc_per_node = "1";
  std::optional<int> node_rank;
  std::string rdzv_backend = "static";
  std::string rdzv_endpoint;
  std::string rdzv_id = "none";
  std::map<std::string, std::string> rdzv_conf;
  bool standalone = false;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string local_addr;
  int max_restarts = 0;
  double monitor_interval_s = 0.1;
  std::string log_dir;
  StreamSelect redirects;
  StreamSelect tee;
  bool no_python = false;
  bool module = false;
  std::vector<std::string> command;  // what each worker executes (argv)

  // --- resolved by resolve() -----------------------------------------------
  int nproc = 1;                     // workers on this node
  std::string endpoint_host;         // where the rendezvous store lives
  uint16_t endpoint_port = 0;        // 0: pick a free one (--standalone)
  std::optional<bool> is_host;       // rdzv-conf is_host, when forced
  bool host_by_node_rank = false;    // static backend: node rank 0 hosts the store
  std::chrono::milliseconds join_timeout{std::chrono::seconds(600)};
  std::chrono::milliseconds last_call_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds keep_alive_interval{std::chrono::seconds(1)};
  int keep_alive_max_attempt = 5;
  std::chrono::milliseconds kill_grace{std::chrono::seconds(3)};
};

// Outcome of parsing: either options to run, or an exit code (after --help,
// --version, or a usage error that was already printed).
struct ParseResult {
  std::optional<Options> options;
  int exit_code = 0;
};

// Parses argv (CLI11), applies PET_* fallbacks, then resolve(). Usage errors
// are printed to stderr and reported through exit_code (2).
ParseResult parse_command_line(int argc, const char* const* argv);

// Decides everything the options leave open (torchrun's semantics):
//   --standalone        c10d on localhost, a free port, one node, a random run id
//   static (default)    endpoint = --rdzv-endpoint or --master-addr:--master-port,
//                       node rank 0 hosts the store
//   c10d                endpoint = --rdzv-endpoint (port 29400 if omitted); the
//                       agent on that host hosts the store
// Throws weft::Error(InvalidArgument) naming the offending option.
void resolve(Options& options);

// Parsers exposed for tests.
std::pair<int, int> parse_nnodes(const std::string& text);
int parse_nproc_per_node(const std::string& text);
StreamSelect parse_stream_select(const std::string& option, const std::string& text);
std::map<std::string, std::string> parse_rdzv_conf(const std::string& text);
// "host:port", "[v6]:port", "host" (port = default_port).
std::pair<std::string, uint16_t> parse_endpoint(const std::string& text, uint16_t default_port);

}  // namespace weftrun
