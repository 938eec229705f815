// The few TCP calls the socket transport makes, with the options it needs:
// non-blocking, TCP_NODELAY (frames are latency-bound), keepalive and a user
// timeout so that a vanished host is noticed without a send or receive.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <string>

namespace weft::transport::tcp {

// An IPv4/IPv6 address with port; text form "1.2.3.4:5" or "[::1]:5".
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string to_string() const;
  static Endpoint parse(const std::string& host, uint16_t port);  // numeric host
  uint16_t port() const;
};

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A non-blocking listening socket on `host` (numeric), port chosen by the OS.
Fd listen_on(const std::string& host, Endpoint* bound);
// Connects within `timeout`; the returned socket is non-blocking with the
// transport's options set. Throws PeerLost (refused, unreachable) or Timeout.
Fd connect_to(const Endpoint& endpoint, std::chrono::milliseconds timeout);
// Options for an accepted socket.
void configure(int fd);
// Blocking-with-deadline write of a small buffer on a non-blocking socket.
bool write_all(int fd, const void* data, size_t bytes, std::chrono::milliseconds timeout);

}  // namespace weft::transport::tcp
