#include "bootstrap/address_book.h"

#include <sstream>

#include "weft/error.h"

namespace weft::bootstrap {

namespace {
constexpr const char* kFormat = "weft-address-book 1";
}

std::string PeerInfo::serialize() const {
  std::ostringstream out;
  out << kFormat << "\n"
      << "rank=" << rank << "\n"
      << "version=" << version << "\n"
      << "host_id=" << host_id << "\n"
      << "hostname=" << hostname << "\n"
      << "pid=" << pid << "\n"
      << "port=" << port << "\n"
      << "nsocks=" << nsocks << "\n"
      << "caps=" << caps << "\n"
      << "comm_id=" << comm_id << "\n";
  for (const auto& [ifname, addr] : addresses) out << "addr=" << ifname << "," << addr << "\n";
  return out.str();
}

PeerInfo PeerInfo::parse(const std::string& text, int expected_rank) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  if (line != kFormat)
    throw_error(ErrorCode::Mismatch, str("rank ", expected_rank,
                                         "'s address book has an unknown format: '", line, "'"));
  PeerInfo p;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "rank") p.rank = std::stoi(value);
    else if (key == "version") p.version = value;
    else if (key == "host_id") p.host_id = value;
    else if (key == "hostname") p.hostname = value;
    else if (key == "pid") p.pid = std::stoll(value);
    else if (key == "port") p.port = static_cast<uint16_t>(std::stoi(value));
    else if (key == "nsocks") p.nsocks = std::stoi(value);
    else if (key == "caps") p.caps = value;
    else if (key == "comm_id") p.comm_id = std::stoull(value);
    else if (key == "addr") {
      auto comma = value.find(',');
      if (comma != std::string::npos) p.addresses.emplace_back(value.substr(0, comma), value.substr(comma + 1));
    }
  }
  if (p.rank != expected_rank)
    throw_error(ErrorCode::Mismatch, str("the address book entry for rank ", expected_rank,
                                         " claims rank ", p.rank));
  return p;
}

std::pair<std::string, std::string> choose_address(const PeerInfo& self, const PeerInfo& peer) {
  const bool same_host = self.host_id == peer.host_id;
  const std::pair<std::string, std::string>* loop = nullptr;
  const std::pair<std::string, std::string>* other = nullptr;
  for (const auto& a : peer.addresses) {
    bool is_loop = a.second == "127.0.0.1" || a.second == "::1";
    if (is_loop && !loop) loop = &a;
    if (!is_loop && !other) other = &a;
  }
  if (same_host && loop) return *loop;
  if (other) return *other;
  WEFT_REQUIRE(loop != nullptr, "rank ", peer.rank, " published no address");
  return *loop;
}

}  // namespace weft::bootstrap
