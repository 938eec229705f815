#include "topo/interfaces.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <sstream>

#include "weft/error.h"

namespace weft::topo {

std::vector<Interface> list_interfaces() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) throw_errno("getifaddrs");
  std::vector<Interface> v4, v6;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !(a->ifa_flags & IFF_UP)) continue;
    char host[INET6_ADDRSTRLEN] = {0};
    Interface i;
    i.name = a->ifa_name;
    i.loopback = (a->ifa_flags & IFF_LOOPBACK) != 0;
    if (a->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, host, sizeof host);
      i.address = host;
      v4.push_back(i);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      auto* s6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
      inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
      i.address = host;
      if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)) i.address += "%" + i.name;
      i.ipv6 = true;
      v6.push_back(i);
    }
  }
  freeifaddrs(list);
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

IfnameFilter::IfnameFilter(const std::string& spec) : spec_(spec) {
  std::string s = spec;
  if (!s.empty() && s[0] == '^') {
    exclude_ = true;
    s = s.substr(1);
  }
  if (!s.empty() && s[0] == '=') {
    exact_ = true;
    s = s.substr(1);
  }
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) prefixes_.push_back(item);
}

bool IfnameFilter::matches(const std::string& name) const {
  if (prefixes_.empty()) return true;
  bool hit = false;
  for (const auto& p : prefixes_)
    hit = hit || (exact_ ? name == p : name.rfind(p, 0) == 0);
  return exclude_ ? !hit : hit;
}

bool is_container_bridge(const std::string& name) {
  for (const char* p : {"docker", "br-", "veth", "virbr", "cni", "flannel", "cali", "weave"})
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

std::vector<Interface> choose_interfaces(const std::vector<Interface>& all,
                                         const std::string& ifname_spec) {
  if (!ifname_spec.empty()) {
    IfnameFilter filter(ifname_spec);
    std::vector<Interface> chosen;
    for (const auto& i : all)
      if (filter.matches(i.name)) chosen.push_back(i);
    WEFT_REQUIRE(!chosen.empty(), "WEFT_SOCKET_IFNAME=", ifname_spec,
                 " matches no interface that is up with an address");
    return chosen;
  }
  std::vector<Interface> real, bridges, loop;
  for (const auto& i : all) {
    if (i.loopback)
      loop.push_back(i);
    else if (is_container_bridge(i.name))
      bridges.push_back(i);
    else if (!(i.ipv6 && i.address.find('%') != std::string::npos))  // no link-local by default
      real.push_back(i);
  }
  if (!real.empty()) return real;
  if (!bridges.empty()) return bridges;
  return loop;
}

}  // namespace weft::topo
