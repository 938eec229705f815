// The store server: one thread runs an epoll loop over the listening socket,
// a stop eventfd and every client connection (all non-blocking).
//
// Per readable client: read what is there, parse as many complete frames as
// the buffer holds, run them against the KvState, queue the replies, write
// what the socket takes. A partial frame waits in the connection's buffer for
// the next read; a reply the socket cannot take yet waits for EPOLLOUT.
// A client that breaks the protocol (unknown type, oversized key or value,
// absurd count, bad magic, wrong token) is logged and closed; nobody else
// notices. A client that disconnects while waiting is removed from every
// waiter list.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "net/poller.h"
#include "net/socket.h"
#include "store/connection.h"
#include "store/dispatch.h"
#include "store/kv_state.h"
#include "weft/env.h"
#include "weft/log.h"
#include "weft/store.h"

namespace weft {

using store::Connection;

namespace {

constexpr uint64_t kListenToken = 0;
constexpr uint64_t kWakeToken = 1;
constexpr uint64_t kFirstClientToken = 2;
// Fairness: bytes read from one client per readiness event.
constexpr size_t kReadBurst = 1u << 20;
// A client whose unread replies exceed this is not read from until it drains.
constexpr size_t kMaxPendingOutput = 64u << 20;

// Compares without an early exit, so timing does not leak the token's bytes.
bool same_token(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

class StoreServer::Impl {
 public:
  explicit Impl(const StoreServerOptions& options)
      : token_(options.token ? *options.token : env::get("WEFT_STORE_TOKEN")),
        listener_(net::Listener::listen(options.host, options.port, options.backlog)) {
    limits_.max_key_bytes = options.max_key_bytes;
    limits_.max_value_bytes = options.max_value_bytes
                                  ? *options.max_value_bytes
                                  : static_cast<size_t>(env::get_int("WEFT_STORE_MAX_VALUE_BYTES"));
    handshake_timeout_ = env::get_seconds("WEFT_STORE_HANDSHAKE_TIMEOUT_S");
    poller_.add(listener_.fd(), EPOLLIN, kListenToken);
    poller_.add(waker_.fd(), EPOLLIN, kWakeToken);
    spare_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    WEFT_INFO("store", "store server listening on ", listener_.address(),
              token_.empty() ? "" : " (token required)", ", max value ", limits_.max_value_bytes,
              " bytes");
    thread_ = std::thread([this] { run(); });
  }

  ~Impl() { stop(); }

  // Idempotent and safe from several threads (an explicit stop() racing the
  // destructor): the first caller joins the loop, the others wait for it.
  void stop() {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    waker_.wake();
    thread_.join();
    connections_.clear();  // closes every client socket
    num_clients_ = 0;
    num_waiters_ = 0;
  }

  uint16_t port() const { return listener_.port(); }
  size_t num_clients() const { return num_clients_.load(); }
  size_t num_keys() const { return num_keys_.load(); }
  size_t num_waiters() const { return num_waiters_.load(); }

 private:
  void run() {
    std::array<epoll_event, 512> events{};
    while (!stopping_.load()) {
      int n = 0;
      try {
        // Wake up for the oldest handshake deadline, if any.
        int timeout_ms = handshakes_.empty() ? -1 : handshakes_.front().first.poll_timeout_ms();
        n = poller_.wait(events, timeout_ms);
      } catch (const Error& e) {
        WEFT_WARN("store", "store server: ", e.message());
        continue;
      }
      for (int i = 0; i < n; ++i) {
        uint64_t token = events[i].data.u64;
        if (token == kWakeToken) {
          waker_.drain();
        } else if (token == kListenToken) {
          accept_all();
        } else {
          serve(token, events[i].events);
        }
      }
      expire_handshakes();
      num_keys_ = state_.size();
      num_clients_ = connections_.size();
      num_waiters_ = state_.waiter_entries();
    }
  }

  void accept_all() {
    while (true) {
      std::optional<net::Socket> socket;
      try {
        socket = listener_.accept();
      } catch (const Error& e) {
        shed_one_connection(e);
        return;
      }
      if (!socket) return;
      uint64_t id = next_id_++;
      auto conn = std::make_unique<Connection>(id, std::move(*socket));
      try {
        conn->socket().set_keepalive(true);
        poller_.add(conn->socket().fd(), EPOLLIN, id);
        conn->interest = EPOLLIN;
      } catch (const Error& e) {
        WEFT_WARN("store", "store server: dropping client ", conn->peer(), ": ", e.message());
        continue;
      }
      WEFT_TRACE("store", "client ", conn->peer(), " connected (id ", id, ")");
      connections_.emplace(id, std::move(conn));
      handshakes_.emplace_back(net::Deadline::after(handshake_timeout_), id);
    }
  }

  // A connection that has not validated in time (a port scanner, a client
  // stuck before its token, a half-open peer) is closed so it cannot pin a
  // descriptor forever. Deadlines are queued in accept order, hence sorted.
  void expire_handshakes() {
    while (!handshakes_.empty() && handshakes_.front().first.passed()) {
      uint64_t id = handshakes_.front().second;
      handshakes_.pop_front();
      auto it = connections_.find(id);
      if (it != connections_.end() && it->second->phase != Connection::Phase::Ready)
        close(*it->second, str("no handshake within ", handshake_timeout_.count(), " ms"),
              /*warn=*/true);
    }
  }

  // Out of file descriptors: accept with the reserved one and close at once,
  // so the pending connection does not keep the level-triggered loop spinning.
  void shed_one_connection(const Error& e) {
    // Once per 1000, so a storm of refusals does not flood the log.
    if (shed_count_++ % 1000 == 0) {
      rlimit limit{};
      getrlimit(RLIMIT_NOFILE, &limit);
      WEFT_WARN("store", "store server: ", e.message(), "; refusing connections (",
                shed_count_, " so far) with ", connections_.size(),
                " clients connected; RLIMIT_NOFILE is ", limit.rlim_cur,
                ": raise it (ulimit -n) to serve more clients");
    }
    spare_fd_.reset();
    int fd = ::accept(listener_.fd(), nullptr, nullptr);
    if (fd >= 0) ::close(fd);
    spare_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }

  void serve(uint64_t id, uint32_t events) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;  // closed earlier in this batch
    Connection& conn = *it->second;
    if (events & EPOLLOUT) {
      if (!pump(conn)) return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_and_process(conn);
  }

  void read_and_process(Connection& conn) {
    size_t total = 0;
    bool eof = false;
    while (total < kReadBurst) {
      net::IoResult r = conn.socket().read_some(scratch_);
      if (r.bytes > 0) {
        conn.append_input(std::span<const uint8_t>(scratch_.data(), r.bytes));
        total += r.bytes;
      }
      if (r.closed) {
        eof = true;
        break;
      }
      if (r.error != 0) {
        close(conn, str("read failed: ", std::strerror(r.error)), /*warn=*/true);
        return;
      }
      if (r.would_block || r.bytes < scratch_.size()) break;
    }
    if (!process(conn)) return;  // closed for a protocol error
    if (eof) {
      // A client may half-close after its last request: best-effort replies.
      if (!write_pending(conn)) return;
      size_t left = conn.unparsed().size();
      if (left > 0)
        close(conn, str("disconnected mid-frame (", left, " bytes of an incomplete ",
                        describe_type(conn.unparsed()[0]), " frame)"), /*warn=*/true);
      else
        close(conn, "disconnected", /*warn=*/false);
      return;
    }
    pump(conn);
  }

  // Writes what the socket takes, then serves frames that the output cap held
  // back, for as long as that makes progress. They have to be served here:
  // they are already in our input buffer, so no EPOLLIN will ever announce
  // them (a client that sent all its requests at once and reads the replies
  // as fast as we write them would otherwise wait forever once the output
  // drains). False if the connection was closed.
  bool pump(Connection& conn) {
    while (true) {
      if (!write_pending(conn)) return false;
      const size_t unparsed = conn.unparsed().size();
      if (conn.pending_output() >= kMaxPendingOutput || unparsed < conn.need ||
          conn.close_after_flush)
        return true;
      if (!process(conn)) return false;
      if (conn.unparsed().size() == unparsed) return true;  // nothing complete to serve
    }
  }

  static std::string describe_type(uint8_t byte) {
    return store::to_string(static_cast<store::QueryType>(byte));
  }

  // Parses and serves every complete frame; false if the connection was closed.
  bool process(Connection& conn) {
    while (conn.pending_output() < kMaxPendingOutput) {
      auto input = conn.unparsed();
      if (input.size() < conn.need) break;
      store::Request request;
      store::ParseResult parsed = store::parse_request(input, limits_, request);
      if (parsed.status == store::ParseResult::Status::NeedMore) {
        // The parser has validated every length so far: room for the whole
        // frame can be made once instead of by repeated doubling.
        conn.need = parsed.need;
        conn.reserve_input(parsed.need);
        break;
      }
      if (parsed.status == store::ParseResult::Status::Malformed) {
        close(conn, str("malformed frame: ", parsed.error), /*warn=*/true);
        return false;
      }
      conn.consume(parsed.consumed);
      conn.need = 1;
      if (!handle(conn, request)) return false;
      if (conn.close_after_flush) break;
    }
    conn.compact_input();
    update_interest(conn);
    return true;
  }

  // Runs one complete request; false if the connection was closed.
  bool handle(Connection& conn, store::Request& request) {
    using store::QueryType;
    switch (conn.phase) {
      case Connection::Phase::Hello:
        if (request.type == QueryType::AUTH) {
          if (!token_.empty() && !same_token(request.token, token_)) {
            WEFT_WARN("store", "store server: client ", conn.peer(),
                      " refused: wrong token");
            conn.output().push_byte(store::kAuthRefused);
            conn.close_after_flush = true;
            return true;
          }
          conn.output().push_byte(store::kAuthAccepted);
          conn.phase = Connection::Phase::Validate;
          return true;
        }
        if (!token_.empty()) {
          close(conn, str("refused: no token presented (this server requires one), first frame ",
                          store::to_string(request.type)), /*warn=*/true);
          return false;
        }
        [[fallthrough]];
      case Connection::Phase::Validate:
        if (request.type != QueryType::VALIDATE) {
          close(conn, str("protocol error: first frame must be VALIDATE, got ",
                          store::to_string(request.type)), /*warn=*/true);
          return false;
        }
        if (request.number != store::kValidateMagic) {
          close(conn, str("protocol error: bad VALIDATE magic 0x", std::hex, request.number),
                /*warn=*/true);
          return false;
        }
        conn.phase = Connection::Phase::Ready;
        return true;
      case Connection::Phase::Ready:
        break;
    }
    const uint64_t id = conn.id();
    store::KvState::Woken woken;
    bool ok = true;
    try {
      Bytes reply;
      store::dispatch(state_, id, request, reply, woken);
      conn.output().push(std::move(reply));
    } catch (const Error& e) {
      close(conn, str("bad request: ", e.message()), /*warn=*/true);
      ok = false;
    }
    release_waiters(woken);
    // A waiter released here may be this very client, and writing to it may
    // have found it gone.
    return ok && connections_.count(id) > 0;
  }

  // Sends STOP_WAITING to every client whose wait was just satisfied. Only
  // writes: their buffered input is served on their own next event.
  void release_waiters(const store::KvState::Woken& woken) {
    for (store::ClientId id : woken) {
      auto it = connections_.find(id);
      if (it == connections_.end()) continue;
      it->second->output().push_byte(static_cast<uint8_t>(store::WaitResponse::STOP_WAITING));
      write_pending(*it->second);
    }
  }

  // Writes pending output as far as the socket takes it; false if the
  // connection was closed.
  bool write_pending(Connection& conn) {
    while (conn.pending_output() > 0) {
      net::IoResult r = conn.socket().write_some(conn.output().front());
      if (r.bytes > 0) conn.output().consume(r.bytes);
      if (r.closed) {
        close(conn, "disconnected before reading its reply", /*warn=*/false);
        return false;
      }
      if (r.error != 0) {
        close(conn, str("write failed: ", std::strerror(r.error)), /*warn=*/true);
        return false;
      }
      if (r.would_block) break;
    }
    if (conn.pending_output() == 0 && conn.close_after_flush) {
      close(conn, "closed after refusing its token", /*warn=*/false);
      return false;
    }
    update_interest(conn);
    return true;
  }

  void update_interest(Connection& conn) {
    uint32_t want = 0;
    if (conn.pending_output() > 0) want |= EPOLLOUT;
    if (conn.pending_output() < kMaxPendingOutput && !conn.close_after_flush) want |= EPOLLIN;
    if (want == conn.interest) return;
    try {
      poller_.modify(conn.socket().fd(), want, conn.id());
      conn.interest = want;
    } catch (const Error& e) {
      WEFT_WARN("store", "store server: ", e.message());
    }
  }

  void close(Connection& conn, const std::string& reason, bool warn) {
    if (warn)
      WEFT_WARN("store", "store server: closing client ", conn.peer(), ": ", reason);
    else
      WEFT_TRACE("store", "store server: client ", conn.peer(), " ", reason);
    poller_.remove(conn.socket().fd());
    state_.cancel_wait(conn.id());
    connections_.erase(conn.id());  // destroys conn
  }

  std::string token_;
  store::Limits limits_;
  net::Listener listener_;
  net::Poller poller_;
  net::Waker waker_;
  net::Fd spare_fd_;
  std::thread thread_;
  std::mutex stop_mutex_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> num_clients_{0};
  std::atomic<size_t> num_keys_{0};
  std::atomic<size_t> num_waiters_{0};

  // Owned by the loop thread.
  store::KvState state_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  uint64_t next_id_ = kFirstClientToken;
  uint64_t shed_count_ = 0;
  std::chrono::milliseconds handshake_timeout_{30000};
  std::deque<std::pair<net::Deadline, uint64_t>> handshakes_;  // (deadline, id), oldest first
  std::array<uint8_t, 64 * 1024> scratch_{};
};

std::unique_ptr<StoreServer> StoreServer::start(const StoreServerOptions& options) {
  return std::unique_ptr<StoreServer>(new StoreServer(std::make_unique<Impl>(options)));
}

StoreServer::StoreServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StoreServer::~StoreServer() = default;
uint16_t StoreServer::port() const { return impl_->port(); }
void StoreServer::stop() { impl_->stop(); }
size_t StoreServer::num_clients() const { return impl_->num_clients(); }
size_t StoreServer::num_keys() const { return impl_->num_keys(); }
size_t StoreServer::num_waiters() const { return impl_->num_waiters(); }

}  // namespace weft
