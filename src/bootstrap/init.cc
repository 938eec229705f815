// Communicator::init, init_from_env and split: from a rendezvous (a store,
// or the parent communicator) to a connected socket communicator.
//
//   1. choose interfaces (WEFT_SOCKET_IFNAME or the defaults), listen
//   2. publish this rank's address book entry, read everyone's
//   3. pick each peer's address (loopback on the same host), build the
//      transport, connect the ring neighbour; the rest connects on first use
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>

#include "bootstrap/address_book.h"
#include "bootstrap/shm_setup.h"
#include "coll/op_desc.h"
#include "comm/comm_impl.h"
#include "comm/device_comm.h"
#include "topo/host_identity.h"
#include "topo/interfaces.h"
#include "net/address.h"
#include "transport/shm/shm_transport.h"
#include "transport/socket/socket_transport.h"
#include "weft/env.h"
#include "weft/log.h"
#include "weft/store.h"

namespace weft {
namespace {

using Clock = std::chrono::steady_clock;

struct Listening {
  net::Listener listener;
  bootstrap::PeerInfo self;
  std::string interfaces;  // for the log
};

Listening listen_for_peers(int rank) {
  const std::string spec = env::get("WEFT_SOCKET_IFNAME");
  auto all = topo::list_interfaces();
  auto chosen = topo::choose_interfaces(all, spec);
  Listening l;
  std::string bind_host;
  if (!spec.empty()) {
    bind_host = chosen.front().address;  // listen where the user said, only there
  } else {
    bool any_v4 = std::any_of(all.begin(), all.end(), [](auto& i) { return !i.ipv6; });
    bind_host = any_v4 ? "0.0.0.0" : "::";
  }
  l.listener = net::Listener::listen(bind_host, 0, 4096);
  l.self.rank = rank;
  l.self.host_id = topo::host_identity();
  l.self.hostname = topo::hostname();
  l.self.pid = ::getpid();
  l.self.port = l.listener.port();
  l.self.nsocks = static_cast<int>(std::clamp<int64_t>(env::get_int("WEFT_NSOCKS"), 1, 16));
  l.self.version = WEFT_VERSION;
  // Every rank says whether it may use shared memory, so that all of them
  // agree on it even when their environments differ.
  l.self.caps = env::get_bool("WEFT_SHM_DISABLE") ? "socket" : "socket,shm";
  if (!spec.empty()) {
    l.self.addresses.emplace_back(chosen.front().name, chosen.front().address);
  } else {
    for (const auto& i : chosen) l.self.addresses.emplace_back(i.name, i.address);
    // Same-host peers use loopback whatever else exists.
    for (const auto& i : all)
      if (i.loopback && i.ipv6 == (bind_host == "::") &&
          std::none_of(l.self.addresses.begin(), l.self.addresses.end(),
                       [&](auto& a) { return a.second == i.address; }))
        l.self.addresses.emplace_back(i.name, i.address);
  }
  for (const auto& [name, addr] : l.self.addresses)
    l.interfaces += str(l.interfaces.empty() ? "" : " ", name, "/", addr);
  return l;
}

uint64_t random_id() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd() ^ static_cast<uint64_t>(::getpid());
}

// Builds the communicator of `book` (indexed by rank in it) for `rank`.
Communicator build(int rank, std::vector<bootstrap::PeerInfo> book, Listening listening,
                   uint64_t comm_id, const CommOptions& options, Clock::time_point t0) {
  const int size = static_cast<int>(book.size());
  const auto init_timeout = options.init_timeout.value_or(std::chrono::seconds(60));
  // Peers on this host get shared-memory rings (unless some rank disabled
  // shared memory); the rest, sockets.
  auto links = bootstrap::setup_shm_links(rank, book, comm_id, init_timeout);
  std::vector<transport::PeerAddress> endpoints(static_cast<size_t>(size));
  for (int q = 0; q < size; ++q) {
    if (q == rank) continue;
    auto [ifname, addr] = bootstrap::choose_address(book[rank], book[q]);
    endpoints[q] = {addr, book[q].port};
    const bool shm = links && links->local_of(q) >= 0;
    WEFT_INFO("bootstrap", "rank ", rank, ": peer rank ", q, " (", book[q].hostname, " pid ",
              book[q].pid, ") via ", shm ? "shared memory" : ifname + " " + net::format_endpoint(addr, book[q].port),
              ", transport ", shm ? "shm" : "socket");
  }
  std::string transport_note;
  transport::SocketOptions socket_options;
  socket_options.nsocks = listening.self.nsocks;
  auto formatter = [](const transport::OpHeader& h) {
    return coll::OpDesc::from_header(h).describe();
  };
  std::unique_ptr<transport::Transport> t;
  if (links)
    t = std::make_unique<transport::ShmTransport>(rank, size, formatter, comm_id,
                                                  std::move(listening.listener), endpoints,
                                                  socket_options, std::move(links));
  else
    t = std::make_unique<transport::SocketTransport>(rank, size, formatter, comm_id,
                                                     std::move(listening.listener), endpoints,
                                                     socket_options);
  const std::string transport_name = t->name();
  auto impl = std::make_shared<Communicator::Impl>(std::move(t), CommConfig::from_env(options));
  impl->comm_id = comm_id;
  impl->options = options;
  impl->self_entry = listening.self.serialize();
  impl->nsocks = socket_options.nsocks;
  {
    auto shm = bootstrap::setup_shm(rank, book, comm_id, impl->transport(), init_timeout);
    transport_note = shm.group ? str("; shared memory with ", shm.group->local_size() - 1,
                                     " peer(s) on this host")
                               : std::string();
    impl->set_topology(std::move(shm.group), std::move(shm.topology));
  }

  if (rank == 0 && log::enabled(log::Level::Info, "bootstrap")) {
    for (const auto& p : book) {
      std::string addrs;
      for (const auto& [n, a] : p.addresses) addrs += str(" ", n, "/", a);
      WEFT_INFO("bootstrap", "address book: rank ", p.rank, " host ", p.hostname, " pid ", p.pid,
                " port ", p.port, " nsocks ", p.nsocks, " weft ", p.version, " addrs", addrs);
    }
  }
  // The ring neighbour is needed by nearly every algorithm, and a connection
  // to it makes every rank watched by two others from the start.
  // Best effort: a neighbour that is already gone is reported by the first
  // operation that needs it.
  if (size > 1) {
    try {
      impl->transport().connect((rank + 1) % size);
    } catch (const Error& e) {
      WEFT_INFO("bootstrap", "rank ", rank, ": early connection to rank ", (rank + 1) % size,
                " failed: ", e.message());
    }
  }
  WEFT_INFO("bootstrap", "rank ", rank, "/", size, ": communicator ", comm_id, " ready in ",
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count(),
            " ms; interfaces ", listening.interfaces, "; transport ", transport_name, " (",
            socket_options.nsocks, " streams per remote peer)", transport_note);
  return Communicator(impl);
}

std::string required_env(const char* name) {
  const char* v = std::getenv(name);
  WEFT_REQUIRE(v && *v, "init_from_env: ", name, " is not set (weftrun and torchrun set RANK, ",
               "WORLD_SIZE, MASTER_ADDR and MASTER_PORT)");
  return v;
}

}  // namespace

Communicator Communicator::init(Store& store, int rank, int size, const CommOptions& options) {
  WEFT_REQUIRE(size >= 1 && rank >= 0 && rank < size, "Communicator::init: rank ", rank,
               " is not in [0, ", size, ")");
  env::warn_unknown_once();
  log::set_process_rank(rank);
  const auto t0 = Clock::now();
  Listening listening = listen_for_peers(rank);

  // Repeated inits with the same name on one store use fresh keys: the
  // counter tells which round this is.
  const int64_t arrival = store.add(options.name + "/init_count", 1);
  const std::string prefix = str(options.name, "/", (arrival - 1) / size, "/");
  if (rank == 0) listening.self.comm_id = random_id();
  store.set(prefix + "addr/" + std::to_string(rank), listening.self.serialize());

  std::vector<std::string> keys;
  for (int q = 0; q < size; ++q) keys.push_back(prefix + "addr/" + std::to_string(q));
  try {
    store.wait(keys, options.init_timeout ? *options.init_timeout : store.timeout());
  } catch (const Error& e) {
    throw_error(e.code(), str("rank ", rank, ": Communicator::init of ", size,
                              " ranks: not every rank published its address: ", e.message()));
  }
  auto values = store.multi_get(keys);
  std::vector<bootstrap::PeerInfo> book;
  for (int q = 0; q < size; ++q) {
    book.push_back(bootstrap::PeerInfo::parse(weft::to_string(values[q]), q));
    if (book[q].version != listening.self.version)
      throw_error(ErrorCode::Mismatch, str("rank ", rank, " runs weft ", listening.self.version,
                                           " but rank ", q, " runs weft ", book[q].version));
  }
  book[rank] = listening.self;
  const uint64_t comm_id = book[0].comm_id;
  std::vector<std::string> host_ids;
  for (const auto& p : book) host_ids.push_back(p.host_id);
  Communicator comm = build(rank, std::move(book), std::move(listening), comm_id, options, t0);
  if (options.device.kind == Device::Kind::cuda) {
    DeviceCommSetup setup;
    setup.rank = rank;
    setup.size = size;
    setup.device = options.device.index;
    setup.name = prefix + "device";
    setup.timeout = comm.impl().config().timeout;
    setup.init_timeout = options.init_timeout ? *options.init_timeout : store.timeout();
    const bool one_host = std::all_of(host_ids.begin(), host_ids.end(),
                                      [&](const std::string& id) { return id == host_ids[0]; });
    comm.impl().device = one_host ? make_device_comm(store, setup)
                                  : make_multihost_device_comm(comm, store, setup, host_ids);
  }
  return comm;
}

Communicator Communicator::init_from_env(const CommOptions& options) {
  const int rank = std::stoi(required_env("RANK"));
  const int size = std::stoi(required_env("WORLD_SIZE"));
  const std::string addr = required_env("MASTER_ADDR");
  const int port = std::stoi(required_env("MASTER_PORT"));
  std::shared_ptr<StoreServer> server;
  if (rank == 0) {
    // Serve the store unless a launcher already does on that port.
    try {
      StoreServerOptions so;
      so.port = static_cast<uint16_t>(port);
      server = StoreServer::start(so);
    } catch (const Error& e) {
      WEFT_INFO("bootstrap", "rank 0: not serving the store (", e.message(), "); connecting");
    }
  }
  TcpStoreOptions co;
  co.host = addr;
  co.port = static_cast<uint16_t>(port);
  std::shared_ptr<Store> store = TcpStore::connect(co);
  Communicator comm = init(*store, rank, size, options);
  comm.impl().keep_alive(store);
  if (server) comm.impl().keep_alive(server);
  return comm;
}

Communicator Communicator::split(int color, int key) {
  Impl& parent = *impl_;
  if (parent.device)
    throw_error(ErrorCode::Unsupported,
                str("rank ", rank(), ": split of a CUDA communicator is not implemented"));
  const std::string parent_transport = parent.transport().name();
  if (parent_transport != "socket" && parent_transport != "shm+socket")
    throw_error(ErrorCode::Unsupported, str("rank ", rank(), ": split needs the socket transport"));
  const auto t0 = Clock::now();
  const int n = size();
  // Every rank contributes (color, key, its new entry) in a fixed-size record.
  constexpr size_t kRecord = 4096;
  std::optional<Listening> listening;
  std::vector<char> mine(kRecord, 0), all(kRecord * static_cast<size_t>(n));
  int64_t header[2] = {color, key};
  std::memcpy(mine.data(), header, sizeof header);
  if (color >= 0) {
    listening = listen_for_peers(rank());
    std::string entry = listening->self.serialize();
    WEFT_REQUIRE(entry.size() < kRecord - sizeof header, "address book entry too large");
    std::memcpy(mine.data() + sizeof header, entry.data(), entry.size());
  }
  const uint64_t split_index = parent.splits++;
  allgather(mine.data(), all.data(), kRecord, DataType::u8).wait();
  if (color < 0) return Communicator(nullptr);

  struct Member { int64_t key; int parent_rank; };
  std::vector<Member> members;
  for (int q = 0; q < n; ++q) {
    int64_t h[2];
    std::memcpy(h, all.data() + kRecord * static_cast<size_t>(q), sizeof h);
    if (h[0] == color) members.push_back({h[1], q});
  }
  std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
    return a.key != b.key ? a.key < b.key : a.parent_rank < b.parent_rank;
  });
  std::vector<bootstrap::PeerInfo> book;
  int new_rank = -1;
  for (size_t i = 0; i < members.size(); ++i) {
    const char* rec = all.data() + kRecord * static_cast<size_t>(members[i].parent_rank) + 2 * sizeof(int64_t);
    auto info = bootstrap::PeerInfo::parse(std::string(rec), members[i].parent_rank);
    info.rank = static_cast<int>(i);
    if (members[i].parent_rank == rank()) new_rank = static_cast<int>(i);
    book.push_back(std::move(info));
  }
  listening->self.rank = new_rank;
  book[new_rank] = listening->self;
  // Every member derives the same id from the parent's id, the split's
  // index and the color.
  const uint64_t comm_id =
      std::hash<std::string>{}(str(parent.comm_id, "/", split_index, "/", color));
  CommOptions options = parent.options;
  options.name = str(options.name, "/split", split_index, "/", color);
  return build(new_rank, std::move(book), std::move(*listening), comm_id, options, t0);
}

}  // namespace weft
