// HostLayout: which ranks share a host, as the multi-host GPU path needs it.
//
// Hosts are numbered in order of their lowest rank; a rank's local index is
// its position among its host's ranks in rank order. That is the order the
// sub-communicators get (split by host, keyed by rank; split by local index,
// keyed by host), so local index == rank in the host's communicator and host
// index == rank in the inter-host communicator of its local index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft {
class Communicator;
}

namespace weft::staging {

struct HostLayout {
  std::vector<int> host_of;              // per rank
  std::vector<int> local_of;             // per rank
  std::vector<std::vector<int>> ranks_of;  // per host, ascending

  int hosts() const { return static_cast<int>(ranks_of.size()); }
  // The ranks per host when every host has the same number, else 0.
  int uniform_local_size() const;
  int rank_of(int host, int local) const { return ranks_of[host][local]; }
  std::string describe() const;  // "2 hosts x 4 ranks" / "3 hosts (2, 1, 1 ranks)"

  // From each rank's host identity (equal strings: same host).
  static HostLayout from_host_ids(const std::vector<std::string>& ids);
};

}  // namespace weft::staging
