#include "net/address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <charconv>
#include <optional>
#include <cstring>

#include "weft/error.h"

namespace weft::net {

std::string Endpoint::to_string() const { return format_endpoint(host, port); }

std::string format_endpoint(std::string_view host, uint16_t port) {
  if (host.find(':') != std::string_view::npos) return str("[", host, "]:", port);
  return str(host, ":", port);
}

Endpoint parse_endpoint(std::string_view text) {
  auto bad = [&](const char* why) -> Endpoint {
    throw_error(ErrorCode::InvalidArgument,
                str("bad endpoint '", text, "': ", why, " (expected host:port or [v6]:port)"));
  };
  Endpoint out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    out.host = std::string(text.substr(1, close - 1));
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("missing ':port'");
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing ':port'");
    if (text.find(':') != colon) return bad("IPv6 literals need brackets");
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) return bad("empty host");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      value > 65535)
    return bad("port is not a number in 0..65535");
  out.port = static_cast<uint16_t>(value);
  return out;
}

SocketAddress::SocketAddress(const sockaddr* addr, socklen_t length) {
  WEFT_ASSERT(length <= sizeof(storage_));
  std::memcpy(&storage_, addr, length);
  length_ = length;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(get())->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(get())->sin6_port);
  return 0;
}

std::string SocketAddress::host() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(get())->sin_addr, buf, sizeof buf);
  else if (family() == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(get())->sin6_addr, buf, sizeof buf);
  else
    return "?";
  return buf;
}

std::string SocketAddress::to_string() const { return format_endpoint(host(), port()); }

// An IPv4/IPv6 literal needs no resolver (getaddrinfo with AI_ADDRCONFIG
// talks netlink on every call; a thousand ranks connecting at once notice).
static std::optional<SocketAddress> parse_literal(const std::string& host, uint16_t port) {
  sockaddr_in v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    return SocketAddress(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
  }
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    return SocketAddress(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
  }
  return std::nullopt;
}

std::vector<SocketAddress> resolve(std::string_view host, uint16_t port, bool passive) {
  if (auto literal = parse_literal(std::string(host), port)) return {*literal};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : AI_ADDRCONFIG);
  std::string host_str(host);
  const char* node = (host_str.empty() || host_str == "*") ? nullptr : host_str.c_str();
  std::string service = std::to_string(port);
  addrinfo* list = nullptr;
  int rc = getaddrinfo(node, service.c_str(), &hints, &list);
  if (rc == EAI_SYSTEM) throw_errno(str("resolving ", format_endpoint(host, port)));
  if (rc != 0)
    throw_error(ErrorCode::SystemError,
                str("resolving ", format_endpoint(host, port), ": ", gai_strerror(rc)));
  std::vector<SocketAddress> out;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next)
    out.emplace_back(ai->ai_addr, static_cast<socklen_t>(ai->ai_addrlen));
  freeaddrinfo(list);
  if (out.empty())
    throw_error(ErrorCode::SystemError,
                str("resolving ", format_endpoint(host, port), ": no addresses"));
  return out;
}

}  // namespace weft::net
