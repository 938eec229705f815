// The weft-store subcommands (each in its own file).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "weft/store.h"

namespace weft::tool {

// Options shared by the client subcommands.
struct ClientArgs {
  std::string endpoint = "127.0.0.1:29500";
  std::string token_file;
  double timeout_s = 0;          // 0: WEFT_STORE_TIMEOUT_S
  double connect_timeout_s = 0;  // 0: WEFT_STORE_CONNECT_TIMEOUT_S
};
std::unique_ptr<TcpStore> connect(const ClientArgs& args);
// The token in a file, trailing newline(s) removed; throws InvalidArgument.
std::string read_token_file(const std::string& path);

struct ServeArgs {
  std::string host = "0.0.0.0";
  int port = 29500;
  std::string token_file;
};
int serve(const ServeArgs& args);

int get(const ClientArgs& args, const std::string& key);
int set(const ClientArgs& args, const std::string& key, const std::string& value);
int add(const ClientArgs& args, const std::string& key, long long delta);
int wait(const ClientArgs& args, const std::vector<std::string>& keys);
int ping(const ClientArgs& args);

struct BenchArgs {
  std::vector<int> clients{64, 256, 1024};
  std::string endpoint;  // empty: start an embedded server
  std::string token_file;
  double ops_seconds = 1.0;  // duration of each ops/s measurement
  std::vector<int> ops_clients{1, 8};
};
int bench(const BenchArgs& args);

}  // namespace weft::tool
