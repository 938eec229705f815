#include "rendezvous.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "weft/env.h"
#include "weft/error.h"
#include "weft/log.h"

namespace weftrun {
namespace {

using Clock = std::chrono::steady_clock;
using weft::ErrorCode;
using weft::str;
using namespace std::chrono_literals;

constexpr auto kPollPeriod = 50ms;

std::string address_text(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof text);
  return text;
}

std::string to_json(const NodeInfo& n) {
  return nlohmann::json{{"host", n.host}, {"addr", n.addr}, {"nproc", n.nproc}, {"pid", n.pid},
                        {"max_restarts", n.max_restarts}}
      .dump();
}

NodeInfo from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text);
  return {j.at("host").get<std::string>(), j.at("addr").get<std::string>(), j.at("nproc").get<int>(),
          j.at("pid").get<int>(), j.at("max_restarts").get<int>()};
}

double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

}  // namespace

std::string host_label() {
  if (auto id = weft::env::raw("WEFT_HOST_ID"); id && !id->empty()) return *id;
  char name[256] = {0};
  ::gethostname(name, sizeof name - 1);
  return name;
}

bool is_local_host(const std::string& host) {
  if (host == "localhost") return true;
  char name[256] = {0};
  ::gethostname(name, sizeof name - 1);
  if (host == name) return true;

  std::set<std::string> local;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next)
      if (i->ifa_addr != nullptr && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
        local.insert(address_text(i->ifa_addr));
    ::freeifaddrs(list);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* resolved = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &resolved) != 0) return false;
  bool match = false;
  for (addrinfo* a = resolved; a != nullptr && !match; a = a->ai_next) {
    std::string text = address_text(a->ai_addr);
    // Loopback names (127.0.0.x, ::1) are this machine even when not listed.
    match = local.count(text) > 0 || text.starts_with("127.") || text == "::1";
  }
  ::freeaddrinfo(resolved);
  return match;
}

Rendezvous::Rendezvous(const Options& options, std::string label)
    : options_(options), host_label_(std::move(label)), prefix_(str("weftrun/", options.rdzv_id)) {
  bool forced = options.is_host.has_value();
  bool want_host = forced ? *options.is_host
                          : options.host_by_node_rank ? options.node_rank.value_or(0) == 0
                                                      : is_local_host(options.endpoint_host);
  store_host_ = options.endpoint_host;
  store_port_ = options.endpoint_port;
  std::string why_not_hosting;
  if (want_host) {
    weft::StoreServerOptions server_options;
    server_options.host = options.endpoint_host.find(':') != std::string::npos ? "::" : "0.0.0.0";
    server_options.port = options.endpoint_port;
    try {
      server_ = weft::StoreServer::start(server_options);
      store_port_ = server_->port();
      store_owner_ = host_label_;
    } catch (const weft::Error& e) {
      // Another agent of this machine hosts it already: join it instead.
      if (forced || options.host_by_node_rank)
        weft::throw_error(e.code(), str("this agent must host the rendezvous store (",
                                        forced ? "--rdzv-conf is_host" : "node rank 0 of the static backend",
                                        ") but cannot: ", e.message(),
                                        " (another job on this port, or two agents with node rank 0?)"));
      why_not_hosting = e.message();
      WEFT_INFO("run", "not hosting the store (", e.message(), "); joining ", store_host_, ":", store_port_);
    }
  }
  WEFT_REQUIRE(store_port_ != 0, "the rendezvous endpoint needs a port (only --standalone picks one)");
  weft::TcpStoreOptions client;
  client.host = server_ ? (store_host_ == "localhost" ? "127.0.0.1" : store_host_) : store_host_;
  client.port = store_port_;
  client.connect_timeout = options.join_timeout;
  client.timeout = options.join_timeout;
  try {
    base_ = weft::TcpStore::connect(client);
  } catch (const weft::Error& e) {
    // Nobody hosts the store although this agent tried to: say why it did not.
    if (why_not_hosting.empty()) throw;
    weft::throw_error(e.code(), str(e.message(), "; this agent tried to host it and could not: ", why_not_hosting));
  }
  if (server_) base_->set(prefix_ + "/store_owner", host_label_);
}

Rendezvous::~Rendezvous() = default;

std::string Rendezvous::store_description() {
  if (server_) return str(store_host_, ":", store_port_, ", hosted by this agent");
  if (store_owner_.empty()) {
    try {
      std::vector<std::string> key = {prefix_ + "/store_owner"};
      if (base_->check(key)) store_owner_ = base_->get_string(key[0]);
    } catch (const weft::Error&) {
    }
  }
  return str(store_host_, ":", store_port_, ", hosted by the agent on host ",
             store_owner_.empty() ? std::string("?") : store_owner_);
}

Round Rendezvous::join(int index, const InterruptCheck& interrupted) {
  Round round;
  round.index = index;
  round.store = std::make_shared<weft::PrefixStore>(str(prefix_, "/r", index), base_);
  weft::Store& store = *round.store;
  const int lo = options_.nnodes_min, hi = options_.nnodes_max;
  const auto start = Clock::now();
  const auto deadline = start + options_.join_timeout;
  auto timed_out = [&](int64_t arrived, const char* what) {
    weft::throw_error(ErrorCode::Timeout,
                      str("rendezvous '", options_.rdzv_id, "' (round ", index, ", store ", store_description(),
                          ") timed out after ", seconds(options_.join_timeout), " s ", what, ": ", arrived,
                          " of ", hi, " agents arrived (--nnodes ", lo == hi ? str(hi) : str(lo, ":", hi),
                          "; raise the limit with --rdzv-conf join_timeout=SECONDS)"));
  };

  // 1-2. arrive, then wait for the round to close.
  const int64_t arrival = store.add("joined", 1);
  std::optional<Clock::time_point> min_reached;
  int nnodes = 0;
  const std::vector<std::string> closed_key = {"closed"};
  for (;;) {
    interrupted();
    if (store.check(closed_key)) {
      nnodes = std::stoi(store.get_string("closed"));
      break;
    }
    int64_t joined = store.add("joined", 0);
    if (joined >= hi) {
      store.compare_set("closed", weft::Bytes{}, weft::to_bytes(std::to_string(hi)));
      continue;
    }
    if (joined >= lo) {
      if (!min_reached) min_reached = Clock::now();
      if (Clock::now() - *min_reached >= options_.last_call_timeout) {
        store.compare_set("closed", weft::Bytes{}, weft::to_bytes(std::to_string(joined)));
        continue;
      }
    }
    if (Clock::now() >= deadline) timed_out(joined, "waiting for agents");
    std::this_thread::sleep_for(kPollPeriod);
  }
  if (arrival > nnodes)
    weft::throw_error(ErrorCode::InvalidArgument,
                      str("rendezvous '", options_.rdzv_id, "' round ", index, " closed with ", nnodes,
                          " agents before this one arrived (arrival ", arrival, ")"));

  // 3. take a node rank and publish this node.
  round.nnodes = nnodes;
  round.node_rank = options_.node_rank ? *options_.node_rank : static_cast<int>(arrival - 1);
  WEFT_REQUIRE(round.node_rank < nnodes, "--node-rank ", round.node_rank, " but the round closed with ", nnodes,
               " nodes");
  NodeInfo me{host_label_, options_.local_addr, options_.nproc, static_cast<int>(::getpid()),
              options_.max_restarts};
  // The heartbeat key exists before the node key, so whoever sees every node
  // key can read every heartbeat.
  store.set(str("hb/", round.node_rank), std::string_view("0"));
  std::string mine = to_json(me);
  std::string stored = weft::to_string(
      store.compare_set(str("node/", round.node_rank), weft::Bytes{}, weft::to_bytes(mine)));
  if (stored != mine) {
    NodeInfo other = from_json(stored);
    weft::throw_error(ErrorCode::Mismatch,
                      str("node rank ", round.node_rank, " is claimed both by host ", other.host, " (pid ",
                          other.pid, ") and by this agent on host ", host_label_, " (pid ", me.pid,
                          "); give every node a distinct --node-rank"));
  }

  // 4. read every node.
  std::vector<std::string> keys;
  for (int i = 0; i < nnodes; ++i) keys.push_back(str("node/", i));
  for (;;) {
    interrupted();
    if (store.check(keys)) break;
    if (Clock::now() >= deadline) {
      int present = 0;
      for (const auto& k : keys) present += store.check(std::vector<std::string>{k}) ? 1 : 0;
      timed_out(present, "waiting for node ranks");
    }
    std::this_thread::sleep_for(kPollPeriod);
  }
  auto values = store.multi_get(keys);
  for (int i = 0; i < nnodes; ++i) {
    NodeInfo n = from_json(weft::to_string(values[static_cast<size_t>(i)]));
    if (n.max_restarts != me.max_restarts)
      weft::throw_error(ErrorCode::Mismatch,
                        str("--max-restarts differs between nodes: ", me.max_restarts, " here (host ",
                            host_label_, "), ", n.max_restarts, " on host ", n.host, " (node rank ", i, ")"));
    if (i < round.node_rank) round.rank_offset += n.nproc;
    round.world_size += n.nproc;
    round.nodes.push_back(std::move(n));
  }
  return round;
}

}  // namespace weftrun
