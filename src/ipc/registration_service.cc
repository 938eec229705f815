#include "ipc/registration_service.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <vector>

#include "ipc/protocol.h"
#include "weft/error.h"
#include "weft/log.h"

namespace weft::ipc {
namespace {

using std::chrono::milliseconds;

// A reply must not block the service forever on a peer that stopped reading.
constexpr milliseconds kReplyTimeout{10000};

struct Mapping {
  void* base = nullptr;
  uint64_t size = 0;
  HandleKind kind = HandleKind::PosixFd;
  uint64_t conn = 0;  // the connection that owns it
};

struct Conn {
  net::Fd fd;
  int peer_rank = -1;  // learnt from its first request
};

}  // namespace

// The state of the service thread; lives on its stack.
struct RegistrationService::Loop {
  RegistrationService& svc;
  std::map<uint64_t, Conn> conns;        // connection id -> connection
  std::map<uint64_t, Mapping> mappings;  // mapping id -> mapping
  uint64_t next_conn = 1;
  uint64_t next_mapping = 1;

  void accept_all() {
    while (auto c = svc.listener_.accept()) {
      ucred cred{};
      socklen_t len = sizeof(cred);
      if (::getsockopt(c->get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != ::getuid()) {
        WEFT_WARN("ipc", "registration service ", svc.address_, ": refused a connection from uid ",
                  cred.uid, " pid ", cred.pid, " (not this user)");
        continue;
      }
      conns.emplace(next_conn++, Conn{std::move(*c), -1});
    }
  }

  void unmap(uint64_t id) {
    auto it = mappings.find(id);
    Mapping m = it->second;
    mappings.erase(it);
    svc.live_.store(mappings.size(), std::memory_order_relaxed);
    svc.mapper_.unmap(m.base, m.size, m.kind);
  }

  // A peer left: unmap what it still held here (or orphan it, see OnPeerExit).
  void close_conn(uint64_t conn_id, const char* why, bool at_shutdown = false) {
    Conn& c = conns.at(conn_id);
    std::vector<uint64_t> owned;
    for (const auto& [id, m] : mappings)
      if (m.conn == conn_id) owned.push_back(id);
    if (!at_shutdown && svc.on_peer_exit_ == OnPeerExit::keep_until_stop) {
      if (!owned.empty())
        WEFT_INFO("ipc", "registration service: peer rank ", c.peer_rank, " ", why, "; keeping its ",
                  owned.size(), " mapping(s) until shutdown");
      for (uint64_t id : owned) mappings.at(id).conn = 0;  // orphaned: unmapped by shutdown()
      conns.erase(conn_id);
      return;
    }
    if (!owned.empty() && at_shutdown)  // the normal end of a communicator
      WEFT_INFO("ipc", "registration service: peer rank ", c.peer_rank, " ", why, " holding ",
                owned.size(), " mapping(s); unmapping them");
    else if (!owned.empty())
      WEFT_WARN("ipc", "registration service: peer rank ", c.peer_rank, " ", why, " holding ",
                owned.size(), " mapping(s); unmapping them");
    for (uint64_t id : owned) {
      try {
        unmap(id);
      } catch (const std::exception& e) {
        WEFT_WARN("ipc", "registration service: unmapping for peer rank ", c.peer_rank,
                  " failed: ", e.what());
      }
    }
    conns.erase(conn_id);
  }

  void reply(Conn& c, const wire::Reply& r, const std::string& error) {
    std::vector<std::byte> out(sizeof(r) + std::min(error.size(), wire::kMaxErrorText));
    std::memcpy(out.data(), &r, sizeof(r));
    std::memcpy(out.data() + sizeof(r), error.data(), out.size() - sizeof(r));
    send_message(c.fd.get(), out, {}, kReplyTimeout);
  }

  wire::Reply serve(uint64_t conn_id, const wire::Request& req, std::vector<net::Fd>& fds) {
    wire::Reply r;
    r.rank = svc.rank_;
    r.request_id = req.request_id;
    if (req.type == wire::Type::Import) {
      WEFT_REQUIRE(req.size > 0 && req.offset < req.size, "import of ", req.size,
                   " bytes at offset ", req.offset, " is empty or out of range");
      ImportSpec spec;
      spec.kind = req.kind;
      spec.size = req.size;
      spec.legacy = req.legacy;
      if (req.kind == HandleKind::PosixFd) {
        WEFT_REQUIRE(fds.size() == 1, "posix-fd import carried ", fds.size(), " descriptors, expected 1");
        spec.fd = std::move(fds[0]);
      } else {
        WEFT_REQUIRE(fds.empty(), to_string(req.kind), " import carried unexpected descriptors");
      }
      void* base = svc.mapper_.map(std::move(spec));
      uint64_t id = next_mapping++;
      mappings.emplace(id, Mapping{base, req.size, req.kind, conn_id});
      svc.live_.store(mappings.size(), std::memory_order_relaxed);
      r.mapping_id = id;
      r.address = reinterpret_cast<uintptr_t>(base) + req.offset;
      WEFT_TRACE("ipc", "registration service: mapped ", req.size, " bytes (", to_string(req.kind),
                 ") for rank ", req.rank, " at ", base, ", mapping #", id);
      return r;
    }
    if (req.type == wire::Type::Release) {
      auto it = mappings.find(req.mapping_id);
      WEFT_REQUIRE(it != mappings.end() && it->second.conn == conn_id, "release of mapping #",
                   req.mapping_id, ", which this peer does not hold");
      unmap(req.mapping_id);
      r.mapping_id = req.mapping_id;
      return r;
    }
    throw_error(ErrorCode::Mismatch, str("unknown request type ", static_cast<uint32_t>(req.type)));
  }

  // One readable connection: serve one request. False: the connection is gone.
  bool handle(uint64_t conn_id) {
    Conn& c = conns.at(conn_id);
    std::optional<Message> msg;
    try {
      msg = recv_message(c.fd.get(), sizeof(wire::Request), milliseconds(0));
    } catch (const Error& e) {
      if (e.code() == ErrorCode::Timeout) return true;  // readiness without data: poll again
      WEFT_WARN("ipc", "registration service: bad message from peer rank ", c.peer_rank, ": ",
                e.message(), "; closing the connection");
      return false;
    }
    if (!msg) return false;
    wire::Request req;
    if (msg->payload.size() != sizeof(req)) {
      WEFT_WARN("ipc", "registration service: ", msg->payload.size(),
                "-byte request (expected ", sizeof(req), "); closing the connection");
      return false;
    }
    std::memcpy(&req, msg->payload.data(), sizeof(req));
    if (req.magic != wire::kMagic || req.version != wire::kVersion) {
      WEFT_WARN("ipc", "registration service: request with magic ", req.magic, " version ",
                req.version, " (expected ", wire::kMagic, " v", wire::kVersion,
                "); closing the connection");
      return false;
    }
    c.peer_rank = req.rank;
    wire::Reply r;
    std::string error;
    try {
      r = serve(conn_id, req, msg->fds);
    } catch (const Error& e) {
      r = wire::Reply{};
      r.rank = svc.rank_;
      r.request_id = req.request_id;
      r.status = 1 + static_cast<int32_t>(e.code());
      error = e.message();
    } catch (const std::exception& e) {
      r = wire::Reply{};
      r.rank = svc.rank_;
      r.request_id = req.request_id;
      r.status = 1 + static_cast<int32_t>(ErrorCode::Internal);
      error = e.what();
    }
    try {
      reply(c, r, error);
    } catch (const Error& e) {
      WEFT_WARN("ipc", "registration service: reply to peer rank ", c.peer_rank, " failed: ",
                e.message());
      return false;
    }
    return true;
  }

  void run() {
    std::vector<pollfd> fds;
    std::vector<uint64_t> ids;
    for (;;) {
      fds.assign({{svc.wake_.get(), POLLIN, 0}, {svc.listener_.fd(), POLLIN, 0}});
      ids.clear();
      for (auto& [id, c] : conns) {
        fds.push_back({c.fd.get(), POLLIN, 0});
        ids.push_back(id);
      }
      int rc = ::poll(fds.data(), fds.size(), -1);
      if (rc < 0) {
        if (errno == EINTR) continue;
        throw_errno("registration service: poll");
      }
      if (fds[0].revents) return;  // stop()
      if (fds[1].revents) accept_all();
      for (size_t i = 0; i < ids.size(); ++i) {
        short ev = fds[i + 2].revents;
        if (ev == 0) continue;
        bool alive = (ev & POLLIN) ? handle(ids[i]) : false;
        if (!alive) close_conn(ids[i], "closed its connection");
      }
    }
  }

  void shutdown() {
    while (!conns.empty())
      close_conn(conns.begin()->first, "was still connected at shutdown,", /*at_shutdown=*/true);
    while (!mappings.empty()) {  // orphans of peers that left (OnPeerExit::keep_until_stop)
      try {
        unmap(mappings.begin()->first);
      } catch (const std::exception& e) {
        WEFT_WARN("ipc", "registration service: unmapping at shutdown failed: ", e.what());
      }
    }
  }
};

RegistrationService::RegistrationService(std::string address, int rank, Mapper& mapper,
                                         OnPeerExit on_peer_exit)
    : address_(std::move(address)),
      rank_(rank),
      mapper_(mapper),
      on_peer_exit_(on_peer_exit),
      listener_(UnixListener::listen(address_)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!wake_) throw_errno("registration service: eventfd");
  thread_ = std::thread([this] { run(); });
  WEFT_INFO("ipc", "registration service of rank ", rank_, " listening on ", address_, " (",
            mapper_.name(), " mapper)");
}

RegistrationService::~RegistrationService() { stop(); }

void RegistrationService::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  ssize_t n = ::write(wake_.get(), &one, sizeof(one));
  (void)n;  // an eventfd write only fails when the counter would overflow
  thread_.join();
}

void RegistrationService::run() noexcept {
  log::ScopedRank scoped(rank_);
  Loop loop{*this, {}, {}};
  try {
    loop.run();
  } catch (const std::exception& e) {
    // No exception escapes the thread: the service stops, peers see their
    // connections close (PeerLost on their side), and the reason is logged.
    WEFT_WARN("ipc", "registration service ", address_, " stopped: ", e.what());
  }
  try {
    loop.shutdown();
  } catch (const std::exception& e) {
    WEFT_WARN("ipc", "registration service ", address_, ": shutdown: ", e.what());
  }
}

}  // namespace weft::ipc
