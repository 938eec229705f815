#include "topo/host_identity.h"

#include <unistd.h>

#include <fstream>

#include "weft/env.h"

namespace weft::topo {

std::string hostname() {
  char name[256] = {0};
  ::gethostname(name, sizeof name - 1);
  return name;
}

std::string host_identity() {
  if (auto id = env::raw("WEFT_HOST_ID"); id && !id->empty()) return *id;
  std::string boot;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> boot;
  char ns[128] = {0};
  ssize_t n = ::readlink("/proc/self/ns/net", ns, sizeof ns - 1);
  return hostname() + "/" + boot + "/" + (n > 0 ? std::string(ns, static_cast<size_t>(n)) : "");
}

}  // namespace weft::topo
