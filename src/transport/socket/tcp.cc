#include "transport/socket/tcp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "weft/error.h"

namespace weft::transport::tcp {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

std::string Endpoint::to_string() const {
  char host[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return str("[", host, "]:", ntohs(a->sin6_port));
  }
  auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
  inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
  return str(host, ":", ntohs(a->sin_port));
}

uint16_t Endpoint::port() const {
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
}

Endpoint Endpoint::parse(const std::string& host, uint16_t port) {
  Endpoint e;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&e.addr);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&e.addr);
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (inet_pton(AF_INET, h.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    e.len = sizeof(sockaddr_in);
  } else {
    // Link-local IPv6 addresses carry "%ifname"; the scope id is resolved here.
    std::string addr = h, scope;
    if (auto pct = h.find('%'); pct != std::string::npos) {
      addr = h.substr(0, pct);
      scope = h.substr(pct + 1);
    }
    WEFT_REQUIRE(inet_pton(AF_INET6, addr.c_str(), &a6->sin6_addr) == 1, "not a numeric address: ",
                 host);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    if (!scope.empty()) a6->sin6_scope_id = if_nametoindex(scope.c_str());
    e.len = sizeof(sockaddr_in6);
  }
  return e;
}

void configure(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  int idle = 10, interval = 2, count = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  // Unacknowledged data older than this means the peer's host is gone.
  unsigned user_timeout_ms = 30000;
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

Fd listen_on(const std::string& host, Endpoint* bound) {
  Endpoint e = Endpoint::parse(host, 0);
  Fd fd(::socket(e.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&e.addr), e.len) != 0)
    throw_errno(str("bind ", e.to_string()));
  if (::listen(fd.get(), 4096) != 0) throw_errno("listen");
  bound->len = sizeof bound->addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound->addr), &bound->len);
  return fd;
}

Fd connect_to(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  Fd fd(::socket(endpoint.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  configure(fd.get());
  int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&endpoint.addr), endpoint.len);
  if (rc != 0 && errno != EINPROGRESS)
    throw_error(ErrorCode::PeerLost, str("connect to ", endpoint.to_string(), ": ", std::strerror(errno)));
  if (rc != 0) {
    pollfd p{fd.get(), POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n == 0)
      throw_error(ErrorCode::Timeout, str("connect to ", endpoint.to_string(), " timed out after ",
                                          timeout.count(), " ms"));
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      throw_error(ErrorCode::PeerLost, str("connect to ", endpoint.to_string(), ": ", std::strerror(err)));
  }
  return fd;
}

bool write_all(int fd, const void* data, size_t bytes, std::chrono::milliseconds timeout) {
  const char* p = static_cast<const char*>(data);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (bytes > 0) {
    ssize_t n = ::send(fd, p, bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd, POLLOUT, 0};
    ::poll(&pfd, 1, static_cast<int>(left.count()));
  }
  return true;
}

}  // namespace weft::transport::tcp
