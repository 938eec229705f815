#include "net/socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <random>
#include <thread>

#include "weft/error.h"

namespace weft::net {
namespace {

bool is_peer_gone(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN; }

void setopt(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) throw_errno(what);
}

// Waits for `events` on fd; false when the deadline passed.
bool wait_for(int fd, short events, Deadline deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, deadline.poll_timeout_ms());
    if (rc > 0) return true;
    if (rc == 0) {
      if (deadline.passed()) return false;
      continue;
    }
    if (errno != EINTR) throw_errno("poll");
  }
}

}  // namespace

void Socket::set_nonblocking(bool on) {
  int flags = ::fcntl(fd(), F_GETFL);
  if (flags < 0) throw_errno(str("fcntl(F_GETFL) on socket to ", peer_));
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (::fcntl(fd(), F_SETFL, flags) != 0) throw_errno(str("fcntl(F_SETFL) on socket to ", peer_));
}

void Socket::set_nodelay(bool on) { setopt(fd(), IPPROTO_TCP, TCP_NODELAY, on, "TCP_NODELAY"); }

void Socket::set_keepalive(bool on, int idle_s, int interval_s, int count) {
  setopt(fd(), SOL_SOCKET, SO_KEEPALIVE, on, "SO_KEEPALIVE");
  if (!on) return;
  setopt(fd(), IPPROTO_TCP, TCP_KEEPIDLE, idle_s, "TCP_KEEPIDLE");
  setopt(fd(), IPPROTO_TCP, TCP_KEEPINTVL, interval_s, "TCP_KEEPINTVL");
  setopt(fd(), IPPROTO_TCP, TCP_KEEPCNT, count, "TCP_KEEPCNT");
}

SocketAddress Socket::local_address() const {
  SocketAddress addr;
  if (::getsockname(fd(), addr.get(), addr.length_ptr()) != 0) throw_errno("getsockname");
  return addr;
}

IoResult Socket::read_some(std::span<uint8_t> data) {
  IoResult r;
  while (true) {
    ssize_t n = ::recv(fd(), data.data(), data.size(), 0);
    if (n > 0) {
      r.bytes = static_cast<size_t>(n);
    } else if (n == 0) {
      r.closed = data.size() > 0;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      r.would_block = true;
    } else if (is_peer_gone(errno)) {
      r.closed = true;
    } else {
      r.error = errno;
    }
    return r;
  }
}

IoResult Socket::write_some(std::span<const uint8_t> data) {
  IoResult r;
  while (true) {
    // MSG_NOSIGNAL: a vanished peer is an EPIPE error, not a process-killing SIGPIPE.
    ssize_t n = ::send(fd(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      r.bytes = static_cast<size_t>(n);
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      r.would_block = true;
    } else if (is_peer_gone(errno)) {
      r.closed = true;
    } else {
      r.error = errno;
    }
    return r;
  }
}

bool Socket::wait_readable(Deadline deadline) { return wait_for(fd(), POLLIN, deadline); }

void Socket::send_all(std::span<const uint8_t> data, Deadline deadline, std::string_view what) {
  size_t done = 0;
  while (done < data.size()) {
    IoResult r = write_some(data.subspan(done));
    done += r.bytes;
    if (r.closed)
      throw_error(ErrorCode::PeerLost, str(what, ": ", peer_, " closed the connection"));
    if (r.error != 0) throw_system_error(str(what, " to ", peer_), r.error);
    if (r.would_block && !wait_for(fd(), POLLOUT, deadline))
      throw_error(ErrorCode::Timeout, str(what, " to ", peer_, ": timed out after sending ",
                                          done, " of ", data.size(), " bytes"));
  }
}

void Socket::recv_exact(std::span<uint8_t> data, Deadline deadline, std::string_view what) {
  size_t done = 0;
  while (done < data.size()) {
    IoResult r = read_some(data.subspan(done));
    done += r.bytes;
    if (r.closed)
      throw_error(ErrorCode::PeerLost, str(what, ": ", peer_, " closed the connection",
                                           done > 0 ? str(" mid-message (", done, " of ",
                                                          data.size(), " bytes)")
                                                    : std::string()));
    if (r.error != 0) throw_system_error(str(what, " from ", peer_), r.error);
    if (r.would_block && !wait_for(fd(), POLLIN, deadline))
      throw_error(ErrorCode::Timeout, str(what, " from ", peer_, ": timed out"));
  }
}

Socket connect_tcp(std::string_view host, uint16_t port, Deadline deadline) {
  std::string target = format_endpoint(host, port);
  auto addresses = resolve(host, port, /*passive=*/false);
  int last_error = 0;
  std::string last_address;
  for (const SocketAddress& addr : addresses) {
    last_address = addr.to_string();
    Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    if (!fd) throw_errno(str("socket() for ", target));
    int rc = ::connect(fd.get(), addr.get(), addr.length());
    if (rc != 0 && errno == EINPROGRESS) {
      if (!wait_for(fd.get(), POLLOUT, deadline))
        throw_error(ErrorCode::Timeout, str("connecting to ", target, " (", last_address,
                                            "): timed out"));  // SYN unanswered
      socklen_t len = sizeof last_error;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &last_error, &len) != 0) last_error = errno;
      rc = last_error == 0 ? 0 : -1;
    } else if (rc != 0) {
      last_error = errno;
    }
    if (rc == 0) {
      Socket s(std::move(fd), target);
      s.set_nodelay(true);
      return s;
    }
  }
  // Name the resolved address too when the host was a name ("localhost").
  std::string where = last_address == target ? target : str(target, " (", last_address, ")");
  throw_system_error(str("connecting to ", where), last_error);
}

namespace {

// Linux marks a socket as listening before it checks the port again, so two
// processes that bind one port with SO_REUSEADDR and call listen() at the same
// moment can both see the other listening and both fail with EADDRINUSE,
// leaving nobody on the port (about 2 % of simultaneous tries on a 6.18
// kernel; two weftrun agents racing to host the rendezvous store hit it).
// A listen() that fails that way after a successful bind() is retried after a
// short random pause: when someone really listens, the next bind() fails.
constexpr int kListenRaceRetries = 8;

void pause_before_listen_retry() {
  static thread_local std::minstd_rand random(static_cast<unsigned>(::getpid()) * 2654435761u);
  std::this_thread::sleep_for(std::chrono::microseconds(200 + random() % 2000));
}

}  // namespace

Listener Listener::listen(std::string_view host, uint16_t port, int backlog) {
  std::string target = format_endpoint(host, port);
  auto addresses = resolve(host, port, /*passive=*/true);
  int last_error = 0;
  for (const SocketAddress& addr : addresses) {
    for (int attempt = 0;; ++attempt) {
      Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
      if (!fd) {
        last_error = errno;
        break;
      }
      setopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
      // "::" serves IPv4 clients too (as v4-mapped addresses).
      if (addr.family() == AF_INET6) setopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY");
      if (::bind(fd.get(), addr.get(), addr.length()) != 0) {
        last_error = errno;
        break;
      }
      if (::listen(fd.get(), backlog) != 0) {
        last_error = errno;
        if (last_error == EADDRINUSE && port != 0 && attempt < kListenRaceRetries) {
          pause_before_listen_retry();
          continue;
        }
        break;
      }
      Listener l;
      l.socket_ = Socket(std::move(fd), target);
      SocketAddress local = l.socket_.local_address();
      l.port_ = local.port();
      l.address_ = local.to_string();
      return l;
    }
  }
  throw_system_error(str("listening on ", target), last_error);
}

std::optional<Socket> Listener::accept() {
  while (true) {
    SocketAddress peer;
    int fd = ::accept4(socket_.fd(), peer.get(), peer.length_ptr(), SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Socket s(Fd(fd), peer.to_string());
      s.set_nodelay(true);
      return s;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
    throw_errno(str("accept on ", address_));
  }
}

}  // namespace weft::net
