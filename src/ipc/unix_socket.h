// Unix-domain sockets that carry file descriptors (SCM_RIGHTS).
//
// Why SOCK_SEQPACKET: every sendmsg() is one record that the receiver gets
// whole in one recvmsg(), with its descriptors attached to exactly that
// record. A stream socket would need framing and careful handling of fds
// arriving with the first byte of a partial read; here a short read cannot
// happen, and a record bigger than the receiver's buffer is detected
// (MSG_TRUNC / MSG_CTRUNC) and reported instead of silently split. EINTR is
// retried everywhere with the remaining time.
//
// Addresses are strings: "@name" is a Linux abstract-namespace socket (no
// file, gone when the listener closes, nothing to clean up after a crash),
// anything else is a filesystem path (for containers that do not share a
// network namespace, selected with WEFT_IPC_SOCKET_DIR). socket_address()
// builds names from a job-unique id, the rank and the pid, so two jobs (or
// two communicators) on one host never collide.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/fd.h"

namespace weft::ipc {

// Most descriptors one message may carry.
inline constexpr size_t kMaxFdsPerMessage = 16;

// "@weft-<job>-<purpose>-r<rank>-p<pid>" (abstract), or the same name as a
// file in WEFT_IPC_SOCKET_DIR when that is set. Characters of job_id and
// purpose outside [A-Za-z0-9._-] become '_'; long job ids are shortened
// (keeping their end, where ids are usually most unique) to fit sun_path.
std::string socket_address(std::string_view job_id, int rank, std::string_view purpose,
                           pid_t pid = -1);

// A listening SOCK_SEQPACKET socket. A path socket's file is removed on
// destruction.
class UnixListener {
 public:
  static UnixListener listen(const std::string& address);
  UnixListener(UnixListener&&) noexcept = default;
  UnixListener& operator=(UnixListener&&) noexcept = default;
  ~UnixListener();

  int fd() const { return fd_.get(); }
  const std::string& address() const { return address_; }
  // One pending connection (the listener is non-blocking: nullopt when none).
  std::optional<net::Fd> accept();

 private:
  UnixListener(net::Fd fd, std::string address) : fd_(std::move(fd)), address_(std::move(address)) {}
  net::Fd fd_;
  std::string address_;
};

// Connects, retrying while the listener does not exist yet (it may still be
// starting); Timeout after `timeout`.
net::Fd connect_unix(const std::string& address, std::chrono::milliseconds timeout);

struct Message {
  std::vector<std::byte> payload;
  std::vector<net::Fd> fds;
};

// Sends one record: payload bytes plus up to kMaxFdsPerMessage descriptors
// (which stay open here; the receiver gets duplicates). Throws PeerLost when
// the peer has gone, Timeout when it does not drain its socket in time.
void send_message(int sock, std::span<const std::byte> payload, std::span<const int> fds,
                  std::chrono::milliseconds timeout);

// Receives one record of at most max_payload bytes. nullopt: the peer closed
// the connection (orderly EOF or reset). Throws Timeout after `timeout`
// (negative: wait forever), Mismatch for a record or descriptor list that
// did not fit (every descriptor that did arrive is closed).
std::optional<Message> recv_message(int sock, size_t max_payload,
                                    std::chrono::milliseconds timeout);

// Waits until `fd` is readable; false on timeout (negative: forever).
bool wait_readable(int fd, std::chrono::milliseconds timeout);

}  // namespace weft::ipc
