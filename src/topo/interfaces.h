// Network interface discovery and choice, NCCL-style.
//
// WEFT_SOCKET_IFNAME selects interfaces by name:
//   "eth,ib"      any interface whose name starts with eth or ib
//   "^docker,lo"  any interface except those starting with docker or lo
//   "=eth0"       exactly eth0 ("=eth0,eth1": exactly one of these)
// Without it, weft uses every "real" interface (not loopback, not a
// container bridge or veth such as docker0, br-*, veth*, virbr*, cni*), falls
// back to the bridges when there is nothing else, and to loopback last. Ranks
// that share a host always talk over loopback.
#pragma once

#include <string>
#include <vector>

namespace weft::topo {

struct Interface {
  std::string name;     // "eth0"
  std::string address;  // numeric, "10.0.0.5" or "fe80::1%eth0"
  bool ipv6 = false;
  bool loopback = false;
};

// Up interfaces with an address, IPv4 first, in the kernel's order.
std::vector<Interface> list_interfaces();

class IfnameFilter {
 public:
  explicit IfnameFilter(const std::string& spec);  // empty: accepts everything
  bool matches(const std::string& name) const;
  bool empty() const { return prefixes_.empty(); }
  const std::string& spec() const { return spec_; }

 private:
  std::string spec_;
  bool exclude_ = false;
  bool exact_ = false;
  std::vector<std::string> prefixes_;
};

// Container bridges and virtual pairs (docker0, br-..., veth..., virbr..., cni...).
bool is_container_bridge(const std::string& name);

// The interfaces to listen on and publish, by the rules above (loopback is
// returned only when nothing else exists or the filter asks for it).
std::vector<Interface> choose_interfaces(const std::vector<Interface>& all,
                                         const std::string& ifname_spec);

}  // namespace weft::topo
