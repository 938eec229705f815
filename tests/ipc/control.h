// A tiny text command channel between a test and its worker process, over a
// SOCK_SEQPACKET unix socket (weft's own ipc layer): the test listens, the
// worker connects, each command and each answer is one record.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

#include "ipc/unix_socket.h"

namespace weft::test {

inline void send_text(int fd, const std::string& text) {
  ipc::send_message(fd, {reinterpret_cast<const std::byte*>(text.data()), text.size()}, {},
                    std::chrono::seconds(10));
}

// The next record as text, "<eof>" when the other side closed.
inline std::string recv_text(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto m = ipc::recv_message(fd, 1 << 16, timeout);
  if (!m) return "<eof>";
  return std::string(reinterpret_cast<const char*>(m->payload.data()), m->payload.size());
}

inline std::string hex(uintptr_t v) {
  std::ostringstream s;
  s << std::hex << v;
  return s.str();
}
inline uintptr_t parse_hex(const std::string& s) { return std::stoull(s, nullptr, 16); }

// A unique control-socket address for this test process.
inline std::string control_address(const std::string& tag) {
  static int n = 0;
  return ipc::socket_address("test-control", n++, tag);
}

}  // namespace weft::test
