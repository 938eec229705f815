// TcpStore: the blocking client of the TCPStore protocol.
//
// One TCP connection, one request at a time (a mutex serialises callers).
// Keys travel with a "/" prefix exactly as torch.distributed.TCPStore sends
// them, so a weft client and a torch client see the same keys on one server.
// get() and multi_get() WAIT for their keys before reading them, as torch
// does. (Trying GET first would save a round trip for present keys, but
// torch's classic, non-libuv server drops a client that GETs a missing key.)
// A WAIT that times out is cancelled with CANCEL_WAIT and reported with the
// keys still missing.
#include <unistd.h>

#include <cstring>
#include <iomanip>
#include <mutex>
#include <thread>
#include <type_traits>

#include "net/socket.h"
#include "store/backoff.h"
#include "store/protocol.h"
#include "weft/env.h"
#include "weft/log.h"
#include "weft/store.h"

namespace weft {

using store::QueryType;
using store::Writer;

namespace {
constexpr const char* kKeyPrefix = "/";
// torch's server refuses keys over 8 KiB (the "/" included); so does weft's.
constexpr size_t kMaxKeyBytes = 8192;
// Replies larger than this are not believed (a corrupted length).
constexpr uint64_t kMaxReplyBytes = uint64_t(1) << 32;
// After a wait timed out, how many keys are CHECKed to name the missing ones.
constexpr size_t kMaxChecked = 64;
// How long the server gets to answer CANCEL_WAIT after a wait timed out.
constexpr auto kCancelGrace = std::chrono::seconds(10);

std::string join_keys(std::span<const std::string> keys, size_t limit = 16) {
  std::string out;
  for (size_t i = 0; i < keys.size() && i < limit; ++i) out += (i ? ", " : "") + keys[i];
  if (keys.size() > limit) out += str(", ... (", keys.size() - limit, " more)");
  return out;
}
}  // namespace

class TcpStore::Impl final : public TcpStore {
 public:
  explicit Impl(const TcpStoreOptions& options)
      : host_(options.host),
        port_(options.port),
        address_(net::format_endpoint(options.host, options.port)),
        token_(options.token ? *options.token : env::get("WEFT_STORE_TOKEN")) {
    timeout_ = options.timeout ? *options.timeout : env::get_seconds("WEFT_STORE_TIMEOUT_S");
    auto connect_timeout = options.connect_timeout
                               ? *options.connect_timeout
                               : env::get_seconds("WEFT_STORE_CONNECT_TIMEOUT_S");
    connect(connect_timeout);
  }

  // --- Store ---------------------------------------------------------------
  void set(std::string_view key, std::span<const uint8_t> value) override {
    run("set", key, [&] {
      Bytes frame;
      Writer(frame).type(QueryType::SET).string(full(key)).bytes(value);
      send(frame);
    });
  }

  Bytes get(std::string_view key) override {
    std::string k(key);
    return run("get", key, [&] {
      do_wait(std::span<const std::string>(&k, 1), timeout_);
      Bytes frame;
      Writer(frame).type(QueryType::GET).string(full(key));
      send(frame);
      return recv_bytes();
    });
  }

  int64_t add(std::string_view key, int64_t delta) override {
    return run("add", key, [&] {
      Bytes frame;
      Writer(frame).type(QueryType::ADD).string(full(key)).i64(delta);
      send(frame);
      return recv_value<int64_t>();
    });
  }

  Bytes compare_set(std::string_view key, std::span<const uint8_t> expected,
                    std::span<const uint8_t> desired) override {
    return run("compare_set", key, [&] {
      Bytes frame;
      Writer(frame).type(QueryType::COMPARE_SET).string(full(key)).bytes(expected).bytes(desired);
      send(frame);
      return recv_bytes();
    });
  }

  bool check(std::span<const std::string> keys) override {
    return run("check", join_keys(keys), [&] { return do_check(keys); });
  }

  void wait(std::span<const std::string> keys, std::chrono::milliseconds timeout) override {
    run("wait", join_keys(keys), [&] { do_wait(keys, timeout); });
  }

  bool delete_key(std::string_view key) override {
    return run("delete_key", key, [&] {
      Bytes frame;
      Writer(frame).type(QueryType::DELETE_KEY).string(full(key));
      send(frame);
      return recv_value<int64_t>() == 1;
    });
  }

  int64_t num_keys() override {
    return run("num_keys", "", [&] {
      Bytes frame;
      Writer(frame).type(QueryType::GETNUMKEYS);
      send(frame);
      return recv_value<int64_t>();
    });
  }

  std::vector<Bytes> multi_get(std::span<const std::string> keys) override {
    return run("multi_get", join_keys(keys), [&] {
      do_wait(keys, timeout_);
      Bytes frame;
      Writer w(frame);
      w.type(QueryType::MULTI_GET).u64(keys.size());
      for (const auto& key : keys) w.string(full(key));
      send(frame);
      std::vector<Bytes> out;
      out.reserve(keys.size());
      for (size_t i = 0; i < keys.size(); ++i) out.push_back(recv_bytes());
      return out;
    });
  }

  void multi_set(std::span<const std::string> keys, std::span<const Bytes> values) override {
    WEFT_REQUIRE(keys.size() == values.size(), "store at ", address_, ": multi_set got ",
                 keys.size(), " keys but ", values.size(), " values");
    run("multi_set", join_keys(keys), [&] {
      Bytes frame;
      Writer w(frame);
      w.type(QueryType::MULTI_SET).u64(keys.size());
      for (size_t i = 0; i < keys.size(); ++i) w.string(full(keys[i])).bytes(values[i]);
      send(frame);
    });
  }

  void append(std::string_view key, std::span<const uint8_t> value) override {
    run("append", key, [&] {
      Bytes frame;
      Writer(frame).type(QueryType::APPEND).string(full(key)).bytes(value);
      send(frame);
    });
  }

  void queue_push(std::string_view key, std::span<const uint8_t> value) override {
    run("queue_push", key, [&] {
      Bytes frame;
      Writer(frame).type(QueryType::QUEUE_PUSH).string(full(key)).bytes(value);
      send(frame);
    });
  }

  std::optional<Bytes> queue_pop(std::string_view key, bool block) override {
    std::string k(key);
    return run("queue_pop", key, [&]() -> std::optional<Bytes> {
      auto deadline = net::Deadline::after(timeout_);
      while (true) {
        // Another popper may win the race for the item the wait saw: retry
        // until the deadline.
        if (block) do_wait(std::span<const std::string>(&k, 1), deadline.remaining());
        Bytes frame;
        Writer(frame).type(QueryType::QUEUE_POP).string(full(key));
        send(frame);
        if (recv_value<int64_t>() > 0) return recv_bytes();
        if (!block) return std::nullopt;
      }
    });
  }

  int64_t queue_len(std::string_view key) override {
    return run("queue_len", key, [&] {
      Bytes frame;
      Writer(frame).type(QueryType::QUEUE_LEN).string(full(key));
      send(frame);
      return recv_value<int64_t>();
    });
  }

 private:
  // The key as sent. A key the server would refuse (and drop the connection
  // for) is refused here, with a message, instead.
  std::string full(std::string_view key) const {
    WEFT_REQUIRE(key.size() + 1 <= kMaxKeyBytes, "store at ", address_, ": key of ", key.size(),
                 " bytes is longer than the protocol's ", kMaxKeyBytes - 1, "-byte limit");
    return kKeyPrefix + std::string(key);
  }

  // Runs one operation under the lock; any failure becomes an error naming
  // the store, the operation and its key(s). A broken connection stays broken.
  template <typename F>
  std::invoke_result_t<F> run(const char* op, std::string_view what, F&& body) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!socket_.valid())
      throw_error(ErrorCode::PeerLost, str("store at ", address_, ": ", op,
                                           describe(what), ": connection lost earlier (",
                                           lost_reason_, ")"));
    try {
      return body();
    } catch (const Error& e) {
      if (e.code() == ErrorCode::Timeout && timed_out_cleanly_) {
        timed_out_cleanly_ = false;
        throw;  // wait timeouts already carry full context; the connection is fine
      }
      // Refused by client-side checks before anything was sent.
      if (e.code() == ErrorCode::InvalidArgument) throw;
      std::string message = e.message();
      if (e.code() == ErrorCode::PeerLost)
        message += " (the store server is gone or restarted)";
      // Any other failure leaves the stream at an unknown position.
      lost_reason_ = message;
      socket_.close();
      throw_error(e.code(), str("store at ", address_, ": ", op, describe(what), ": ", message));
    }
  }

  static std::string describe(std::string_view what) {
    if (what.empty()) return std::string();
    if (what.size() > 80) return str(" '", what.substr(0, 77), "...'");
    return str(" '", what, "'");
  }

  void send(std::span<const uint8_t> frame) {
    socket_.send_all(frame, net::Deadline::after(timeout_), "sending request");
  }

  template <typename T>
  T recv_value(net::Deadline deadline) {
    T value{};
    socket_.recv_exact(std::span(reinterpret_cast<uint8_t*>(&value), sizeof value), deadline,
                       "reading reply");
    return value;
  }
  template <typename T>
  T recv_value() {
    return recv_value<T>(net::Deadline::after(timeout_));
  }

  Bytes recv_bytes() {
    auto deadline = net::Deadline::after(timeout_);
    uint64_t size = recv_value<uint64_t>(deadline);
    if (size > kMaxReplyBytes)
      throw_error(ErrorCode::Internal, str("reply claims ", size, " bytes: corrupt stream"));
    Bytes out(size);
    socket_.recv_exact(out, deadline, "reading reply");
    return out;
  }

  bool do_check(std::span<const std::string> keys) {
    Bytes frame;
    Writer w(frame);
    w.type(QueryType::CHECK).u64(keys.size());
    for (const auto& key : keys) w.string(full(key));
    send(frame);
    auto response = recv_value<uint8_t>();
    if (response > 1) throw_error(ErrorCode::Internal, str("CHECK reply ", int(response)));
    return response == static_cast<uint8_t>(store::CheckResponse::READY);
  }

  void do_wait(std::span<const std::string> keys, std::chrono::milliseconds timeout) {
    Bytes frame;
    Writer w(frame);
    w.type(QueryType::WAIT).u64(keys.size());
    for (const auto& key : keys) w.string(full(key));
    send(frame);
    auto deadline = net::Deadline::after(timeout);
    if (socket_.wait_readable(deadline)) {
      expect_wait_response(recv_value<uint8_t>(), store::WaitResponse::STOP_WAITING);
      return;
    }
    // Timed out: cancel. The server may have released us just before; then
    // STOP_WAITING arrives ahead of WAIT_CANCELED.
    Bytes cancel;
    Writer(cancel).type(QueryType::CANCEL_WAIT);
    send(cancel);
    auto grace = net::Deadline::after(kCancelGrace);
    auto response = recv_value<uint8_t>(grace);
    if (response == static_cast<uint8_t>(store::WaitResponse::STOP_WAITING))
      response = recv_value<uint8_t>(grace);
    expect_wait_response(response, store::WaitResponse::WAIT_CANCELED);

    // Name the missing keys (one CHECK each, for at most kMaxChecked keys).
    std::vector<std::string> missing;
    size_t checked = std::min(keys.size(), kMaxChecked);
    for (size_t i = 0; i < checked; ++i)
      if (!do_check(keys.subspan(i, 1))) missing.push_back(keys[i]);
    std::string scope = checked < keys.size() ? str(" (checked ", checked, " of ", keys.size(),
                                                    " keys)")
                                              : "";
    timed_out_cleanly_ = true;
    throw_error(ErrorCode::Timeout,
                str("store at ", address_, ": wait for ", keys.size(), " key",
                    keys.size() == 1 ? "" : "s", " timed out after ", timeout.count(),
                    " ms; missing: ", missing.empty() ? "(none by now)" : join_keys(missing),
                    scope));
  }

  static void expect_wait_response(uint8_t got, store::WaitResponse want) {
    if (got != static_cast<uint8_t>(want))
      throw_error(ErrorCode::Internal, str("unexpected WAIT reply byte ", int(got)));
  }

  // Connects, authenticates and validates, retrying with jittered backoff
  // until `timeout` has passed.
  void connect(std::chrono::milliseconds timeout) {
    auto start = net::Clock::now();
    auto deadline = net::Deadline::after(timeout);
    store::Backoff backoff;
    int attempts = 0;
    int handshake_closes = 0;
    while (true) {
      ++attempts;
      try {
        net::Socket socket =
            net::connect_tcp(host_, port_, deadline.min(net::Deadline::after(std::chrono::seconds(10))));
        socket.set_keepalive(true);
        handshake(socket, deadline);
        socket_ = std::move(socket);
        WEFT_TRACE("store", "connected to store at ", address_, " after ", attempts, " attempt(s)");
        return;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::Mismatch) throw;
        if (e.code() == ErrorCode::PeerLost && ++handshake_closes >= 3)
          throw_error(ErrorCode::Mismatch,
                      str("store at ", address_, " closed the connection during the handshake ",
                          handshake_closes, " times; ",
                          token_.empty() ? "it probably requires a token (set WEFT_STORE_TOKEN)"
                                         : "is it a TCPStore server?",
                          " (or it is out of file descriptors: see its log)"));
        if (deadline.passed()) {
          auto tried = std::chrono::duration<double>(net::Clock::now() - start).count();
          throw_error(e.code(), str("could not connect to the store at ", address_, " for ",
                                    std::fixed, std::setprecision(2), tried, " s (", attempts, " attempts); last error: ",
                                    e.message()));
        }
        WEFT_TRACE("store", "store at ", address_, " not reachable yet: ", e.message());
      }
      auto delay = std::min(backoff.next(), deadline.remaining());
      std::this_thread::sleep_for(delay);
    }
  }

  void handshake(net::Socket& socket, net::Deadline deadline) {
    auto step = deadline.min(net::Deadline::after(std::chrono::seconds(30)));
    if (!token_.empty()) {
      Bytes auth;
      Writer(auth).type(QueryType::AUTH).string(token_);
      socket.send_all(auth, step, "sending token");
      uint8_t answer = 0;
      socket.recv_exact(std::span(&answer, 1), step, "reading token answer");
      if (answer != store::kAuthAccepted)
        throw_error(ErrorCode::Mismatch, str("store at ", address_, " refused the token"));
    }
    uint32_t nonce = static_cast<uint32_t>(::getpid());
    Bytes hello;
    Writer(hello).type(QueryType::VALIDATE).u32(store::kValidateMagic).type(QueryType::PING).u32(nonce);
    socket.send_all(hello, step, "sending handshake");
    uint32_t echoed = 0;
    socket.recv_exact(std::span(reinterpret_cast<uint8_t*>(&echoed), sizeof echoed), step,
                      "reading PING reply");
    if (echoed != nonce)
      throw_error(ErrorCode::Mismatch, str("store at ", address_, " answered PING with ", echoed,
                                           " instead of ", nonce, ": not a TCPStore server?"));
  }

  std::string host_;
  uint16_t port_;
  std::string address_;
  std::string token_;
  std::mutex mutex_;
  net::Socket socket_;
  std::string lost_reason_;
  bool timed_out_cleanly_ = false;
};

std::unique_ptr<TcpStore> TcpStore::connect(const TcpStoreOptions& options) {
  return std::make_unique<Impl>(options);
}

TcpStore::~TcpStore() = default;

}  // namespace weft
