// Which ranks share a host: hostname + boot id + network namespace, so that
// containers or namespaces on one machine count as different hosts when they
// cannot reach each other's loopback. WEFT_HOST_ID overrides it (tests fake
// several hosts on one machine).
#pragma once

#include <string>

namespace weft::topo {

std::string hostname();
std::string host_identity();

}  // namespace weft::topo
