// `weft-store` as a real process: serve + the client subcommands, tokens via
// --token-file, a restart seen by clients as a clear error, and the same
// session against an embedded and a standalone server.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>

#include "subprocess.h"
#include "store_test_util.h"

namespace weft::test {
namespace {

// A `weft-store serve` child; the port is read from its first output line.
class StandaloneServer {
 public:
  explicit StandaloneServer(uint16_t port = 0, const std::string& token_file = "") {
    dir_ = make_temp_dir("weft-store-serve");
    out_ = dir_ + "/stdout";
    std::vector<std::string> argv{bin("weft-store"), "serve", "--host", "127.0.0.1", "--port",
                                  std::to_string(port)};
    if (!token_file.empty()) argv.insert(argv.end(), {"--token-file", token_file});
    Subprocess::Options options;
    options.stdout_path = out_;
    options.stderr_path = dir_ + "/stderr";
    process_.emplace(Subprocess::spawn(argv, options));
    std::smatch m;
    std::regex line("weft-store listening on 127.0.0.1 port ([0-9]+)");
    bool up = eventually([&] {
      std::string text = read_file(out_);
      if (!std::regex_search(text, m, line)) return false;
      port_ = static_cast<uint16_t>(std::stoi(m[1]));
      return true;
    }, 10s);
    if (!up) ADD_FAILURE() << "weft-store serve did not start: " << read_file(dir_ + "/stderr");
  }
  uint16_t port() const { return port_; }
  // SIGTERM; returns the exit code.
  int terminate() {
    process_->kill(SIGTERM);
    auto status = process_->wait_for(10s);
    return status && status->exited() ? status->code : -1;
  }
  std::string output() const { return read_file(out_); }
  std::string errors() const { return read_file(dir_ + "/stderr"); }

 private:
  std::string dir_, out_;
  std::optional<Subprocess> process_;
  uint16_t port_ = 0;
};

struct CliRun {
  int code = -1;
  std::string out, err;
};

CliRun run_cli(const std::vector<std::string>& args) {
  std::string dir = make_temp_dir("weft-store-cli");
  Subprocess::Options options;
  options.stdout_path = dir + "/out";
  options.stderr_path = dir + "/err";
  std::vector<std::string> argv{bin("weft-store")};
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = Subprocess::spawn(argv, options);
  auto status = p.wait_for(30s);
  CliRun r;
  if (status && status->exited()) r.code = status->code;
  r.out = read_file(dir + "/out");
  r.err = read_file(dir + "/err");
  return r;
}

std::string write_token(const std::string& token) {
  std::string path = make_temp_dir("weft-token") + "/token";
  std::ofstream(path) << token << "\n";
  return path;
}

TEST(StoreProcess, ServeAndClientSubcommands) {
  StandaloneServer server;
  std::string ep = str("127.0.0.1:", server.port());
  EXPECT_EQ(run_cli({"set", "--endpoint", ep, "greeting", "hi there"}).code, 0);
  CliRun get = run_cli({"get", "--endpoint", ep, "greeting"});
  EXPECT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(get.out, "hi there\n");
  EXPECT_EQ(run_cli({"add", "--endpoint", ep, "n", "5"}).out, "5\n");
  EXPECT_EQ(run_cli({"add", "--endpoint", ep, "n", "-2"}).out, "3\n");
  EXPECT_EQ(run_cli({"wait", "--endpoint", ep, "greeting", "n"}).code, 0);
  CliRun timeout = run_cli({"wait", "--endpoint", ep, "--timeout", "0.2", "greeting", "absent"});
  EXPECT_EQ(timeout.code, 1);
  EXPECT_NE(timeout.err.find(str("[Timeout] store at ", ep, ": wait for 2 keys timed out after "
                                 "200 ms; missing: absent")),
            std::string::npos) << timeout.err;
  CliRun ping = run_cli({"ping", "--endpoint", ep});
  EXPECT_EQ(ping.code, 0);
  EXPECT_NE(ping.out.find(str("store at ", ep, " is up (2 keys)")), std::string::npos) << ping.out;
  // A TcpStore in this process sees what the CLI set.
  auto store = TcpStore::connect(client_options(server.port()));
  EXPECT_EQ(store->get_string("greeting"), "hi there");
  EXPECT_EQ(server.terminate(), 0);
  EXPECT_NE(server.output().find("weft-store stopped (signal 15)"), std::string::npos);
}

TEST(StoreProcess, TokenFile) {
  std::string token = write_token("tok-123");
  StandaloneServer server(0, token);
  std::string ep = str("127.0.0.1:", server.port());
  EXPECT_EQ(run_cli({"set", "--endpoint", ep, "--token-file", token, "k", "v"}).code, 0);
  EXPECT_EQ(run_cli({"get", "--endpoint", ep, "--token-file", token, "k"}).out, "v\n");
  CliRun wrong = run_cli({"get", "--endpoint", ep, "--token-file", write_token("nope"), "k"});
  EXPECT_EQ(wrong.code, 1);
  EXPECT_EQ(wrong.err, str("weft-store: [Mismatch] store at ", ep, " refused the token\n"));
  // The server logged why it refused.
  EXPECT_TRUE(eventually([&] { return server.errors().find("refused: wrong token") != std::string::npos; }))
      << server.errors();
  CliRun none = run_cli({"get", "--endpoint", ep, "k"});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("it probably requires a token"), std::string::npos) << none.err;
}

TEST(StoreProcess, RestartIsAClearErrorForClients) {
  StandaloneServer first;
  uint16_t port = first.port();
  auto store = TcpStore::connect(client_options(port));
  store->set("k", std::string_view("v"));
  EXPECT_EQ(first.terminate(), 0);
  std::string m = error_of([&] { store->get("k"); }, ErrorCode::PeerLost);
  EXPECT_NE(m.find(str("store at 127.0.0.1:", port, ": get 'k'")), std::string::npos) << m;
  EXPECT_NE(m.find("the store server is gone or restarted"), std::string::npos) << m;
  // A new server on the same port: new clients connect; the data is gone.
  StandaloneServer second(port);
  ASSERT_EQ(second.port(), port);
  auto fresh = TcpStore::connect(client_options(port));
  std::string k = "k";
  EXPECT_FALSE(fresh->check(std::span(&k, 1)));
  // The old client stays failed (it does not silently talk to a new server).
  error_of([&] { store->num_keys(); }, ErrorCode::PeerLost);
}

// The same session gives the same answers from either kind of server.
std::vector<std::string> session(uint16_t port) {
  auto s = TcpStore::connect(client_options(port));
  std::vector<std::string> log;
  s->set("a", std::string_view("1"));
  log.push_back(std::to_string(s->add("a", 41)));
  log.push_back(to_string(s->compare_set("a", to_bytes("42"), to_bytes("x"))));
  s->append("a", to_bytes("yz"));
  log.push_back(s->get_string("a"));
  s->queue_push("q", to_bytes("item"));
  log.push_back(std::to_string(s->queue_len("q")));
  log.push_back(to_string(*s->queue_pop("q", false)));
  log.push_back(std::to_string(s->num_keys()));
  log.push_back(std::to_string(s->delete_key("a")));
  return log;
}

TEST(StoreProcess, EmbeddedAndStandaloneAgree) {
  auto embedded = start_server();
  StandaloneServer standalone;
  auto a = session(embedded->port());
  auto b = session(standalone.port());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, (std::vector<std::string>{"42", "x", "xyz", "1", "item", "1", "1"}));
}

}  // namespace
}  // namespace weft::test
