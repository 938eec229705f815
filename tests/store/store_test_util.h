// Helpers for the store tests: an embedded server on a free loopback port,
// client options with short timeouts, and a raw protocol client that speaks
// bytes directly (for malformed frames and exact reply checks).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include "net/socket.h"
#include "store/protocol.h"
#include "weft/error.h"
#include "weft/store.h"

namespace weft::test {

using namespace std::chrono_literals;

inline std::unique_ptr<StoreServer> start_server(StoreServerOptions options = {}) {
  options.host = "127.0.0.1";
  options.port = 0;
  return StoreServer::start(options);
}

inline TcpStoreOptions client_options(uint16_t port) {
  TcpStoreOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.timeout = 10s;
  o.connect_timeout = 10s;
  o.token = "";
  return o;
}

// Polls `pred` until true or the timeout passes.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

// Runs `f`, expects a weft::Error with `code`, returns its message.
template <typename F>
std::string error_of(F&& f, ErrorCode code) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(to_string(e.code()), std::string(to_string(code))) << e.what();
    return e.message();
  }
  ADD_FAILURE() << "expected a weft::Error " << to_string(code);
  return "";
}

class RawClient {
 public:
  explicit RawClient(uint16_t port)
      : socket_(net::connect_tcp("127.0.0.1", port, net::Deadline::after(5s))) {}

  void send(const store::Bytes& bytes) { socket_.send_all(bytes, net::Deadline::after(5s)); }
  store::Bytes recv(size_t n, std::chrono::milliseconds timeout = 5s) {
    store::Bytes out(n);
    socket_.recv_exact(out, net::Deadline::after(timeout));
    return out;
  }
  // VALIDATE (no reply) + PING (echo).
  void handshake() {
    store::Bytes hello;
    store::Writer(hello)
        .type(store::QueryType::VALIDATE)
        .u32(store::kValidateMagic)
        .type(store::QueryType::PING)
        .u32(77);
    send(hello);
    auto echo = recv(4);
    uint32_t nonce = 0;
    std::memcpy(&nonce, echo.data(), 4);
    ASSERT_EQ(nonce, 77u);
  }
  // True if the server closes the connection within `timeout` (any bytes
  // still arriving first are discarded).
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = net::Deadline::after(timeout);
    uint8_t buf[256];
    while (socket_.wait_readable(deadline)) {
      auto r = socket_.read_some(buf);
      if (r.closed || r.error) return true;
    }
    return false;
  }
  // True if nothing arrives within `timeout`.
  bool silent_for(std::chrono::milliseconds timeout) {
    return !socket_.wait_readable(net::Deadline::after(timeout));
  }
  net::Socket& socket() { return socket_; }

 private:
  net::Socket socket_;
};

inline store::Bytes frame_get(const std::string& key) {
  store::Bytes f;
  store::Writer(f).type(store::QueryType::GET).string(key);
  return f;
}

inline store::Bytes frame_set(const std::string& key, const std::string& value) {
  store::Bytes f;
  store::Writer(f).type(store::QueryType::SET).string(key).bytes(
      std::span(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  return f;
}

inline int64_t as_i64(const store::Bytes& b) {
  int64_t v = 0;
  std::memcpy(&v, b.data(), sizeof v);
  return v;
}

}  // namespace weft::test
