#include "ipc/unix_socket.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "net/deadline.h"
#include "weft/env.h"
#include "weft/error.h"

namespace weft::ipc {
namespace {

using std::chrono::milliseconds;

std::string sanitize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

// Fills a sockaddr_un for "@abstract" or a path; returns its length.
socklen_t make_addr(const std::string& address, sockaddr_un& sa) {
  std::memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  WEFT_REQUIRE(!address.empty(), "unix socket: empty address");
  WEFT_REQUIRE(address.size() < sizeof(sa.sun_path),
               "unix socket: address '", address, "' is longer than ", sizeof(sa.sun_path) - 1,
               " bytes");
  if (address[0] == '@') {
    // Abstract: sun_path starts with NUL, the name is the rest (not NUL-terminated).
    std::memcpy(sa.sun_path + 1, address.data() + 1, address.size() - 1);
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  }
  std::memcpy(sa.sun_path, address.data(), address.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + 1);
}

net::Deadline deadline_after(milliseconds timeout) {
  return timeout.count() < 0 ? net::Deadline::never() : net::Deadline::after(timeout);
}

// poll() one fd for `events`, retrying EINTR with the time left; false on timeout.
bool wait_for(int fd, short events, const net::Deadline& deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, deadline.poll_timeout_ms());
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) throw_errno("poll on unix socket");
  }
}

}  // namespace

std::string socket_address(std::string_view job_id, int rank, std::string_view purpose,
                           pid_t pid) {
  if (pid < 0) pid = ::getpid();
  std::string suffix = str("-", sanitize(purpose), "-r", rank, "-p", pid);
  std::string job = sanitize(job_id);
  std::string dir;
  if (auto d = env::raw("WEFT_IPC_SOCKET_DIR"); d && !d->empty()) dir = *d + "/";
  // sun_path holds 108 bytes including the terminator (abstract: the leading NUL).
  const size_t budget = sizeof(sockaddr_un::sun_path) - 1;
  const size_t fixed = (dir.empty() ? 1 : dir.size()) + 5 + suffix.size();  // "@"/dir + "weft-"
  WEFT_REQUIRE(fixed + 1 <= budget, "WEFT_IPC_SOCKET_DIR '", dir, "' is too long for a unix socket path");
  if (job.size() > budget - fixed) job = job.substr(job.size() - (budget - fixed));
  std::string name = str("weft-", job, suffix);
  return dir.empty() ? "@" + name : dir + name;
}

UnixListener UnixListener::listen(const std::string& address) {
  sockaddr_un sa;
  socklen_t len = make_addr(address, sa);
  net::Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw_errno("socket(AF_UNIX, SOCK_SEQPACKET)");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0)
    throw_errno(str("bind unix socket '", address, "'"));
  if (::listen(fd.get(), 128) != 0) throw_errno(str("listen on unix socket '", address, "'"));
  return UnixListener(std::move(fd), address);
}

UnixListener::~UnixListener() {
  if (fd_ && !address_.empty() && address_[0] != '@') ::unlink(address_.c_str());
}

std::optional<net::Fd> UnixListener::accept() {
  for (;;) {
    int c = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) return net::Fd(c);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return std::nullopt;
    throw_errno(str("accept on unix socket '", address_, "'"));
  }
}

net::Fd connect_unix(const std::string& address, milliseconds timeout) {
  sockaddr_un sa;
  socklen_t len = make_addr(address, sa);
  auto deadline = net::Deadline::after(timeout);
  milliseconds backoff(1);
  for (;;) {
    net::Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket(AF_UNIX, SOCK_SEQPACKET)");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0) return fd;
    int err = errno;
    // Not listening yet (or its backlog is full): retry until the deadline.
    bool retry = err == ENOENT || err == ECONNREFUSED || err == EAGAIN || err == EINTR;
    if (!retry) throw_system_error(str("connect to unix socket '", address, "'"), err);
    if (deadline.remaining() < backoff)
      throw_error(ErrorCode::Timeout, str("connect to unix socket '", address, "': nobody listening after ",
                                          timeout.count(), " ms (", std::strerror(err), ")"));
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, milliseconds(50));
  }
}

bool wait_readable(int fd, milliseconds timeout) {
  return wait_for(fd, POLLIN, deadline_after(timeout));
}

void send_message(int sock, std::span<const std::byte> payload, std::span<const int> fds,
                  milliseconds timeout) {
  WEFT_REQUIRE(fds.size() <= kMaxFdsPerMessage, "send_message: ", fds.size(),
               " descriptors, at most ", kMaxFdsPerMessage, " per message");
  WEFT_REQUIRE(!payload.empty(), "send_message: empty payload");
  iovec iov{const_cast<std::byte*>(payload.data()), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    std::memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  }
  auto deadline = deadline_after(timeout);
  for (;;) {
    ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      // A SEQPACKET record is sent whole or not at all.
      WEFT_ASSERT(static_cast<size_t>(n) == payload.size());
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_for(sock, POLLOUT, deadline))
        throw_error(ErrorCode::Timeout, str("send on unix socket: peer did not drain it within ",
                                            timeout.count(), " ms"));
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
      throw_error(ErrorCode::PeerLost, str("send on unix socket: peer closed the connection (",
                                           std::strerror(errno), ")"));
    throw_errno("sendmsg on unix socket");
  }
}

std::optional<Message> recv_message(int sock, size_t max_payload, milliseconds timeout) {
  Message out;
  out.payload.resize(std::max<size_t>(max_payload, 1));
  iovec iov{out.payload.data(), out.payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  auto deadline = deadline_after(timeout);
  ssize_t n;
  for (;;) {
    if (!wait_for(sock, POLLIN, deadline))
      throw_error(ErrorCode::Timeout,
                  str("receive on unix socket: nothing arrived within ", timeout.count(), " ms"));
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n >= 0) break;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    if (errno == ECONNRESET) return std::nullopt;
    throw_errno("recvmsg on unix socket");
  }
  // Take ownership of every descriptor first, so none leaks on an error below.
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      out.fds.emplace_back(fd);
    }
  }
  if (n == 0 && out.fds.empty()) return std::nullopt;  // orderly EOF (records are never empty)
  if (msg.msg_flags & MSG_CTRUNC)
    throw_error(ErrorCode::Mismatch, str("receive on unix socket: more than ", kMaxFdsPerMessage,
                                         " descriptors in one message; extra ones were dropped"));
  if (msg.msg_flags & MSG_TRUNC)
    throw_error(ErrorCode::Mismatch, str("receive on unix socket: message larger than ",
                                         max_payload, " bytes"));
  out.payload.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace weft::ipc
