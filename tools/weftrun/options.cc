#include "options.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>

#include "devices.h"
#include "weft/env.h"
#include "weft/error.h"
#include "weft/log.h"

namespace weftrun {
namespace {

using weft::ErrorCode;
using weft::str;
using weft::throw_error;

int to_int(const std::string& option, const std::string& text) {
  try {
    size_t used = 0;
    int value = std::stoi(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw_error(ErrorCode::InvalidArgument, str(option, " expects an integer, got '", text, "'"));
}

double to_seconds(const std::string& option, const std::string& text) {
  try {
    size_t used = 0;
    double value = std::stod(text, &used);
    if (used == text.size() && value >= 0) return value;
  } catch (const std::exception&) {
  }
  throw_error(ErrorCode::InvalidArgument,
              str(option, " expects a non-negative number of seconds, got '", text, "'"));
}

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

std::string random_run_id() {
  std::random_device device;
  std::mt19937_64 gen((static_cast<uint64_t>(device()) << 32) ^ device());
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(gen()));
  return text;
}

}  // namespace

std::pair<int, int> parse_nnodes(const std::string& text) {
  auto colon = text.find(':');
  int lo = to_int("--nnodes", text.substr(0, colon));
  int hi = colon == std::string::npos ? lo : to_int("--nnodes", text.substr(colon + 1));
  WEFT_REQUIRE(lo >= 1 && hi >= lo, "--nnodes ", text, " must be N or MIN:MAX with 1 <= MIN <= MAX");
  return {lo, hi};
}

int parse_nproc_per_node(const std::string& text) {
  if (text == "gpu") {
    int gpus = visible_gpu_count();
    if (gpus == 0)
      throw_error(ErrorCode::InvalidArgument,
                  "--nproc-per-node gpu: no GPU is visible (CUDA_VISIBLE_DEVICES, "
                  "/proc/driver/nvidia/gpus and nvidia-smi -L report none)");
    return gpus;
  }
  if (text == "cpu") return usable_cpu_count();
  if (text == "auto") {
    // torchrun: one per GPU when CUDA is available, else one per CPU.
    int gpus = visible_gpu_count();
    return gpus > 0 ? gpus : usable_cpu_count();
  }
  int count = to_int("--nproc-per-node", text);
  WEFT_REQUIRE(count >= 1, "--nproc-per-node ", text, " must be >= 1 (or auto, cpu, gpu)");
  return count;
}

StreamSelect parse_stream_select(const std::string& option, const std::string& text) {
  auto value_of = [&](const std::string& v) {
    int n = to_int(option, v);
    WEFT_REQUIRE(n >= 0 && n <= 3, option, " values are 0 (none), 1 (stdout), 2 (stderr), 3 (both); got ", v);
    return n;
  };
  StreamSelect select;
  if (text.empty()) return select;
  if (text.find(':') == std::string::npos) {
    select.all = value_of(text);
    return select;
  }
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto colon = item.find(':');
    WEFT_REQUIRE(colon != std::string::npos, option, " ", text,
                 ": expected N or LOCAL_RANK:N,LOCAL_RANK:N,...");
    select.per_rank[to_int(option, item.substr(0, colon))] = value_of(item.substr(colon + 1));
  }
  return select;
}

std::map<std::string, std::string> parse_rdzv_conf(const std::string& text) {
  std::map<std::string, std::string> conf;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    WEFT_REQUIRE(eq != std::string::npos && eq > 0, "--rdzv-conf ", text,
                 ": expected KEY=VALUE,KEY=VALUE,... (got '", item, "')");
    conf[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return conf;
}

std::pair<std::string, uint16_t> parse_endpoint(const std::string& text, uint16_t default_port) {
  WEFT_REQUIRE(!text.empty(), "empty rendezvous endpoint");
  std::string host = text;
  std::string port_text;
  if (text.front() == '[') {  // [v6]:port
    auto close = text.find(']');
    WEFT_REQUIRE(close != std::string::npos, "endpoint ", text, ": missing ']'");
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      WEFT_REQUIRE(text[close + 1] == ':', "endpoint ", text, ": expected ':' after ']'");
      port_text = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  WEFT_REQUIRE(!host.empty(), "endpoint ", text, ": missing host");
  if (port_text.empty()) return {host, default_port};
  int port = to_int(str("endpoint ", text, ": port"), port_text);
  WEFT_REQUIRE(port >= 0 && port <= 65535, "endpoint ", text, ": port out of range");
  return {host, static_cast<uint16_t>(port)};
}

void resolve(Options& o) {
  WEFT_REQUIRE(!o.command.empty(), "no program to run: usage is weftrun [options] script.py ARGS "
                                   "or weftrun [options] -- PROGRAM ARGS");
  WEFT_REQUIRE(o.rdzv_backend == "static" || o.rdzv_backend == "c10d",
               "--rdzv-backend ", o.rdzv_backend, " is not supported (static or c10d)");
  WEFT_REQUIRE(o.max_restarts >= 0, "--max-restarts must be >= 0");
  WEFT_REQUIRE(o.monitor_interval_s > 0, "--monitor-interval must be > 0");
  WEFT_REQUIRE(!(o.no_python && o.module), "--no-python and --module cannot be combined");

  if (o.standalone) {
    // torchrun --standalone: a private single-node rendezvous on a free port.
    o.rdzv_backend = "c10d";
    o.rdzv_endpoint = "localhost:0";
    if (o.rdzv_id == "none") o.rdzv_id = random_run_id();
    o.nnodes_min = o.nnodes_max = 1;
    o.is_host = true;
  }
  if (o.rdzv_backend == "static") {
    WEFT_REQUIRE(o.nnodes_min == o.nnodes_max, "--rdzv-backend static needs a fixed --nnodes (got ",
                 o.nnodes_min, ":", o.nnodes_max, ")");
    if (!o.node_rank) o.node_rank = 0;
    auto [host, port] = o.rdzv_endpoint.empty()
                            ? std::pair<std::string, uint16_t>(o.master_addr, 0)
                            : parse_endpoint(o.rdzv_endpoint, static_cast<uint16_t>(o.master_port));
    if (o.rdzv_endpoint.empty()) {
      WEFT_REQUIRE(o.master_port >= 0 && o.master_port <= 65535, "--master-port out of range");
      port = static_cast<uint16_t>(o.master_port);
    }
    o.endpoint_host = host;
    o.endpoint_port = port;
    o.host_by_node_rank = true;
  } else {
    WEFT_REQUIRE(!o.rdzv_endpoint.empty(), "--rdzv-backend c10d needs --rdzv-endpoint HOST[:PORT]");
    auto [host, port] = parse_endpoint(o.rdzv_endpoint, 29400);
    o.endpoint_host = host;
    o.endpoint_port = port;
  }
  WEFT_REQUIRE(!o.node_rank || (*o.node_rank >= 0 && *o.node_rank < o.nnodes_max), "--node-rank ",
               o.node_rank.value_or(0), " out of range for --nnodes ", o.nnodes_max);
  WEFT_REQUIRE(!o.node_rank || o.nnodes_min == o.nnodes_max,
               "--node-rank needs a fixed --nnodes (got ", o.nnodes_min, ":", o.nnodes_max, ")");

  // torchrun's rdzv-conf keys that mean something here; others are accepted
  // (scripts pass backend-specific ones) with a warning.
  static const std::set<std::string> ignored = {"close_timeout", "read_timeout", "timeout", "use_libuv",
                                                "store_type", "rank"};
  for (const auto& [key, value] : o.rdzv_conf) {
    std::string option = str("--rdzv-conf ", key);
    if (key == "join_timeout") o.join_timeout = to_ms(to_seconds(option, value));
    else if (key == "last_call_timeout") o.last_call_timeout = to_ms(to_seconds(option, value));
    else if (key == "keep_alive_interval") o.keep_alive_interval = to_ms(to_seconds(option, value));
    else if (key == "keep_alive_max_attempt") o.keep_alive_max_attempt = std::max(1, to_int(option, value));
    else if (key == "is_host") {
      std::string v = value;
      std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
      WEFT_REQUIRE(v == "1" || v == "0" || v == "true" || v == "false", option, "=", value,
                   " must be true or false");
      o.is_host = (v == "1" || v == "true");
    } else if (!ignored.count(key)) {
      std::fprintf(stderr, "weftrun: warning: --rdzv-conf key '%s' is not used by weftrun\n", key.c_str());
    }
  }
  WEFT_REQUIRE(o.keep_alive_interval.count() > 0, "--rdzv-conf keep_alive_interval must be > 0");
  o.kill_grace = weft::env::get_seconds("WEFT_RUN_KILL_GRACE_S");
  o.nproc = parse_nproc_per_node(o.nproc_per_node);

  // What each worker executes: torchrun runs scripts with the current python
  // (-u: unbuffered, so prefixed lines appear as they are printed).
  if (o.module) {
    o.command.insert(o.command.begin(), {"python3", "-u", "-m"});
  } else if (!o.no_python && o.command.front().ends_with(".py")) {
    o.command.insert(o.command.begin(), {"python3", "-u"});
  }
}

ParseResult parse_command_line(int argc, const char* const* argv) {
  CLI::App app{
      "weftrun: launch one process per GPU or CPU slot on every node, torchrun-compatible.\n"
      "  weftrun [options] script.py ARGS...      (runs python3 -u script.py)\n"
      "  weftrun [options] -- PROGRAM ARGS...\n"
      "Every option can also be set through PET_<NAME> (e.g. PET_NNODES=2).",
      "weftrun"};
  app.prefix_command();  // stop at the program; everything after it is its argv
  app.set_version_flag("--version", std::string("weftrun (weft ") + WEFT_VERSION + ")");

  Options o;
  std::string nnodes = "1", redirects, tee, rdzv_conf;
  std::optional<int> node_rank;
  auto opt = [&](const char* names, auto& var, const char* env, const char* help) {
    return app.add_option(names, var, help)->envname(env);
  };
  opt("--nnodes", nnodes, "PET_NNODES", "Number of nodes, N or MIN:MAX")->capture_default_str();
  opt("--nproc-per-node,--nproc_per_node", o.nproc_per_node, "PET_NPROC_PER_NODE",
      "Workers per node: a number, gpu, cpu or auto")->capture_default_str();
  opt("--node-rank,--node_rank", node_rank, "PET_NODE_RANK",
      "This node's rank (static backend; c10d assigns ranks by arrival when omitted)");
  opt("--rdzv-backend,--rdzv_backend", o.rdzv_backend, "PET_RDZV_BACKEND",
      "static or c10d (the weft store)")->capture_default_str();
  opt("--rdzv-endpoint,--rdzv_endpoint", o.rdzv_endpoint, "PET_RDZV_ENDPOINT",
      "Rendezvous store HOST:PORT (c10d default port 29400)");
  opt("--rdzv-id,--rdzv_id", o.rdzv_id, "PET_RDZV_ID", "Job id shared by all nodes")->capture_default_str();
  opt("--rdzv-conf,--rdzv_conf", rdzv_conf, "PET_RDZV_CONF",
      "KEY=VALUE,...: join_timeout, last_call_timeout, keep_alive_interval, "
      "keep_alive_max_attempt, is_host");
  app.add_flag("--standalone", o.standalone, "Single node, private store on a free port")
      ->envname("PET_STANDALONE");
  opt("--master-addr,--master_addr", o.master_addr, "PET_MASTER_ADDR",
      "Store host for the static backend")->capture_default_str();
  opt("--master-port,--master_port", o.master_port, "PET_MASTER_PORT",
      "Store port for the static backend")->capture_default_str();
  opt("--local-addr,--local_addr", o.local_addr, "PET_LOCAL_ADDR", "This node's address, as shown to peers");
  opt("--max-restarts,--max_restarts", o.max_restarts, "PET_MAX_RESTARTS",
      "Restart the whole group up to R times after a failure")->capture_default_str();
  opt("--monitor-interval,--monitor_interval", o.monitor_interval_s, "PET_MONITOR_INTERVAL",
      "Seconds between checks of the workers and the store")->capture_default_str();
  opt("--log-dir,--log_dir", o.log_dir, "PET_LOG_DIR",
      "Keep each rank's stdout/stderr in LOG_DIR/RUN_ID/attempt_K/rank_R/");
  opt("-r,--redirects", redirects, "PET_REDIRECTS",
      "Send worker streams to log files only: 0 none, 1 stdout, 2 stderr, 3 both (or LR:N,...)");
  opt("-t,--tee", tee, "PET_TEE", "Copy worker streams to log files and the console (same values)");
  app.add_flag("--no-python,--no_python", o.no_python, "Execute the program directly, even a .py")
      ->envname("PET_NO_PYTHON");
  app.add_flag("-m,--module", o.module, "Run the program as a python module (python3 -m)")
      ->envname("PET_MODULE");

  try {
    app.parse(argc, const_cast<char**>(argv));
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, app.exit(e)};
  }
  try {
    std::vector<std::string> rest = app.remaining();
    if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
    else if (!rest.empty() && rest.front().starts_with("-"))
      throw_error(ErrorCode::InvalidArgument, str("unknown option ", rest.front(), " (see weftrun --help)"));
    o.command = std::move(rest);
    auto [lo, hi] = parse_nnodes(nnodes);
    o.nnodes_min = lo;
    o.nnodes_max = hi;
    o.node_rank = node_rank;
    o.redirects = parse_stream_select("--redirects", redirects);
    o.tee = parse_stream_select("--tee", tee);
    o.rdzv_conf = parse_rdzv_conf(rdzv_conf);
    resolve(o);
  } catch (const weft::Error& e) {
    std::fprintf(stderr, "weftrun: %s\n", e.message().c_str());
    return {std::nullopt, 2};
  }
  return {std::move(o), 0};
}

}  // namespace weftrun
