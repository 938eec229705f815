// weft-store: the standalone rendezvous server and an operator's client.
//
//   weft-store serve --host 0.0.0.0 --port 29500 [--token-file F]
//   weft-store get|set|add|wait|ping --endpoint H:P ...
//   weft-store bench --clients 64,256,1024 [--endpoint H:P]
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.h"
#include "weft/env.h"
#include "weft/error.h"

namespace {

void add_client_options(CLI::App* cmd, weft::tool::ClientArgs& args) {
  cmd->add_option("--endpoint", args.endpoint, "Store address host:port or [v6]:port")
      ->capture_default_str();
  cmd->add_option("--token-file", args.token_file, "File holding the shared token");
  cmd->add_option("--timeout", args.timeout_s, "Seconds to wait (default WEFT_STORE_TIMEOUT_S)");
  cmd->add_option("--connect-timeout", args.connect_timeout_s,
                  "Seconds to keep retrying the connection (default WEFT_STORE_CONNECT_TIMEOUT_S)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft-store: rendezvous key-value store (TCPStore wire protocol)"};
  app.require_subcommand(1);

  weft::tool::ServeArgs serve;
  auto* serve_cmd = app.add_subcommand("serve", "Run a store server until SIGINT/SIGTERM");
  serve_cmd->add_option("--host", serve.host, "Address to bind (:: for IPv6 any)")->capture_default_str();
  serve_cmd->add_option("--port", serve.port, "Port (0 picks a free one)")->capture_default_str();
  serve_cmd->add_option("--token-file", serve.token_file,
                        "Require this shared token from clients (default WEFT_STORE_TOKEN)");

  weft::tool::ClientArgs client;
  std::string key, value;
  long long delta = 1;
  std::vector<std::string> keys;
  auto* get_cmd = app.add_subcommand("get", "Print a key's value (waits for it)");
  add_client_options(get_cmd, client);
  get_cmd->add_option("key", key)->required();
  auto* set_cmd = app.add_subcommand("set", "Set a key");
  add_client_options(set_cmd, client);
  set_cmd->add_option("key", key)->required();
  set_cmd->add_option("value", value)->required();
  auto* add_cmd = app.add_subcommand("add", "Add to a counter and print the new value");
  add_client_options(add_cmd, client);
  add_cmd->add_option("key", key)->required();
  add_cmd->add_option("delta", delta)->capture_default_str();
  auto* wait_cmd = app.add_subcommand("wait", "Wait until every key exists");
  add_client_options(wait_cmd, client);
  wait_cmd->add_option("keys", keys)->required();
  auto* ping_cmd = app.add_subcommand("ping", "Connect, validate and ping");
  add_client_options(ping_cmd, client);

  weft::tool::BenchArgs bench;
  auto* bench_cmd = app.add_subcommand(
      "bench", "N client processes connect, set, add and pass a barrier; then get/set ops/s");
  bench_cmd->add_option("--clients", bench.clients, "Client process counts")
      ->delimiter(',')
      ->capture_default_str();
  bench_cmd->add_option("--endpoint", bench.endpoint, "Use this server instead of an embedded one");
  bench_cmd->add_option("--token-file", bench.token_file, "Token for --endpoint");
  bench_cmd->add_option("--ops-seconds", bench.ops_seconds, "Seconds per ops/s measurement")
      ->capture_default_str();
  bench_cmd->add_option("--ops-clients", bench.ops_clients, "Client counts for ops/s")
      ->delimiter(',')
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  weft::env::warn_unknown_once();
  try {
    if (*serve_cmd) return weft::tool::serve(serve);
    if (*get_cmd) return weft::tool::get(client, key);
    if (*set_cmd) return weft::tool::set(client, key, value);
    if (*add_cmd) return weft::tool::add(client, key, delta);
    if (*wait_cmd) return weft::tool::wait(client, keys);
    if (*ping_cmd) return weft::tool::ping(client);
    if (*bench_cmd) return weft::tool::bench(bench);
  } catch (const weft::Error& e) {
    std::fprintf(stderr, "weft-store: %s\n", e.what());
    return 1;
  }
  return 2;
}
