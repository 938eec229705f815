// The operator's client subcommands: get, set, add, wait, ping.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "net/address.h"
#include "weft/error.h"

namespace weft::tool {
namespace {
std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}
}  // namespace

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  WEFT_REQUIRE(in.good(), "cannot read token file ", path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  WEFT_REQUIRE(!token.empty(), "token file ", path, " is empty");
  return token;
}

std::unique_ptr<TcpStore> connect(const ClientArgs& args) {
  net::Endpoint endpoint = net::parse_endpoint(args.endpoint);
  TcpStoreOptions options;
  options.host = endpoint.host;
  options.port = endpoint.port;
  if (args.timeout_s > 0) options.timeout = millis(args.timeout_s);
  if (args.connect_timeout_s > 0) options.connect_timeout = millis(args.connect_timeout_s);
  if (!args.token_file.empty()) options.token = read_token_file(args.token_file);
  return TcpStore::connect(options);
}

int get(const ClientArgs& args, const std::string& key) {
  Bytes value = connect(args)->get(key);
  std::fwrite(value.data(), 1, value.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

int set(const ClientArgs& args, const std::string& key, const std::string& value) {
  auto store = connect(args);
  store->set(key, std::string_view(value));
  store->num_keys();  // a round trip, so a refused SET surfaces here
  return 0;
}

int add(const ClientArgs& args, const std::string& key, long long delta) {
  std::printf("%lld\n", static_cast<long long>(connect(args)->add(key, delta)));
  return 0;
}

int wait(const ClientArgs& args, const std::vector<std::string>& keys) {
  connect(args)->wait(keys);
  return 0;
}

int ping(const ClientArgs& args) {
  auto start = std::chrono::steady_clock::now();
  auto store = connect(args);  // connect = TCP + VALIDATE + PING round trip
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("store at %s is up (%lld keys), connect+ping %.2f ms\n", args.endpoint.c_str(),
              static_cast<long long>(store->num_keys()), ms);
  return 0;
}

}  // namespace weft::tool
