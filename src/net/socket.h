// TCP sockets: connect with a deadline, listen/accept, full reads and writes
// with a deadline, and the non-blocking primitives an event loop needs.
//
// Every Socket carries a description of its peer ("10.0.0.2:29500") so that
// errors say which connection failed. Error mapping, used by every caller:
//   the peer closed or reset the connection  -> PeerLost
//   the deadline passed                       -> Timeout
//   any other OS failure                      -> SystemError (with errno text)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "net/address.h"
#include "net/deadline.h"
#include "net/fd.h"

namespace weft::net {

// Outcome of one non-blocking read or write.
struct IoResult {
  size_t bytes = 0;     // transferred
  bool would_block = false;
  bool closed = false;  // EOF, EPIPE or ECONNRESET: the peer is gone
  int error = 0;        // any other errno
  bool ok() const { return !closed && error == 0; }
};

class Socket {
 public:
  Socket() = default;
  Socket(Fd fd, std::string peer) : fd_(std::move(fd)), peer_(std::move(peer)) {}

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }
  const std::string& peer() const { return peer_; }
  void close() { fd_.reset(); }

  void set_nonblocking(bool on);
  void set_nodelay(bool on);
  // SO_KEEPALIVE plus, when on, the probe timings (seconds) so a dead peer
  // is noticed in idle + interval * count seconds instead of hours.
  void set_keepalive(bool on, int idle_s = 10, int interval_s = 5, int count = 3);
  SocketAddress local_address() const;

  // Writes every byte or throws (PeerLost / Timeout / SystemError); `what`
  // names the operation in the message.
  void send_all(std::span<const uint8_t> data, Deadline deadline, std::string_view what = "send");
  // Reads exactly data.size() bytes or throws.
  void recv_exact(std::span<uint8_t> data, Deadline deadline, std::string_view what = "receive");
  // Waits until the socket is readable; false when the deadline passed first.
  bool wait_readable(Deadline deadline);

  // One non-blocking attempt each (the socket should be non-blocking).
  IoResult read_some(std::span<uint8_t> data);
  IoResult write_some(std::span<const uint8_t> data);

 private:
  Fd fd_;
  std::string peer_;
};

// Connects to host:port, trying every resolved address until one accepts or
// the deadline passes. The returned socket is non-blocking with TCP_NODELAY.
// Throws SystemError (last address's errno, e.g. ECONNREFUSED) or Timeout.
Socket connect_tcp(std::string_view host, uint16_t port, Deadline deadline);

class Listener {
 public:
  // Binds host:port ("0.0.0.0" IPv4 any, "::" dual-stack any, a name or a
  // literal; port 0 picks a free one) and listens. Non-blocking, close-on-exec,
  // SO_REUSEADDR. Throws SystemError naming the address (EADDRINUSE...).
  static Listener listen(std::string_view host, uint16_t port, int backlog);

  int fd() const { return socket_.fd(); }
  uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }
  // Accepts one pending connection (non-blocking, close-on-exec, NODELAY);
  // nullopt when none is pending. Throws SystemError on other failures
  // (EMFILE is returned as an error so the caller can shed load).
  std::optional<Socket> accept();

 private:
  Socket socket_;
  uint16_t port_ = 0;
  std::string address_;
};

}  // namespace weft::net
