// Endpoints ("host:port", "[v6]:port") and name resolution.
//
// An Endpoint is what a user types; a SocketAddress is one resolved address
// the kernel understands. Resolution goes through getaddrinfo, so host names,
// IPv4 literals and IPv6 literals all work.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weft::net {

struct Endpoint {
  std::string host;  // a name, an IPv4 literal or an IPv6 literal (no brackets)
  uint16_t port = 0;

  // "host:port", with brackets around IPv6 literals ("[::1]:29500").
  std::string to_string() const;
  bool operator==(const Endpoint&) const = default;
};

// Parses "host:port", "[v6]:port" or "v4:port". A bare IPv6 literal without
// brackets is rejected because its last colon is ambiguous. Throws
// InvalidArgument naming the text.
Endpoint parse_endpoint(std::string_view text);

// Formats host and port as parse_endpoint accepts them.
std::string format_endpoint(std::string_view host, uint16_t port);

class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(const sockaddr* addr, socklen_t length);

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  socklen_t* length_ptr() { return &length_; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  // Numeric host ("10.0.0.1" or "fe80::1").
  std::string host() const;
  // "10.0.0.1:80" or "[fe80::1]:80".
  std::string to_string() const;

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = sizeof(sockaddr_storage);
};

// Resolves host:port for TCP. `passive` resolves for bind() (an empty host or
// "*" means every local address). Throws SystemError naming host:port when
// resolution fails or yields nothing.
std::vector<SocketAddress> resolve(std::string_view host, uint16_t port, bool passive);

}  // namespace weft::net
