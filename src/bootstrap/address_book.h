// One rank's entry in the address book that init exchanges through the
// store: who it is (host identity, pid), where it listens (one port, one
// address per interface), what it can do and which weft it runs. The text
// form is "key=value" lines, so `weft-store` dumps stay readable.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace weft::bootstrap {

struct PeerInfo {
  int rank = -1;
  std::string host_id;
  std::string hostname;
  int64_t pid = 0;
  uint16_t port = 0;
  std::vector<std::pair<std::string, std::string>> addresses;  // (interface, numeric address)
  int nsocks = 1;
  std::string caps = "socket";
  std::string version;
  uint64_t comm_id = 0;  // meaningful in rank 0's entry: the communicator's id

  std::string serialize() const;
  // Throws Mismatch on a foreign format or version (naming the rank).
  static PeerInfo parse(const std::string& text, int expected_rank);
};

// The address `self` uses to reach `peer`: loopback on the same host, else
// the peer's first non-loopback address. Returns (interface, address).
std::pair<std::string, std::string> choose_address(const PeerInfo& self, const PeerInfo& peer);

}  // namespace weft::bootstrap
