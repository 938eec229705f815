// The communicator across three fake hosts (network namespaces joined by a
// bridge): each rank runs in its own namespace, WEFT_SOCKET_IFNAME=eth0
// selects the veth interface, WEFT_HOST_ID is left to the real identity
// (the namespaces differ, so every peer is remote). Rank 0 hosts the store
// (init_from_env). Skipped where namespaces cannot be made (not root).
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <unistd.h>

#include "netns.h"
#include "subprocess.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

TEST(MultiHost, CollectivesAcrossThreeNamespaces) {
  if (auto why = NetnsGroup::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  const int n = 3;
  NetnsGroup hosts = NetnsGroup::create(n);
  const std::string dir = make_temp_dir("multihost");
  const std::string port = std::to_string(29000 + getpid() % 1000);
  std::vector<Subprocess> procs;
  for (int r = 0; r < n; ++r) {
    Subprocess::Options o;
    o.env = {{"RANK", std::to_string(r)},        {"WORLD_SIZE", std::to_string(n)},
             {"MASTER_ADDR", hosts.address(0)},  {"MASTER_PORT", port},
             {"WEFT_SOCKET_IFNAME", "=eth0"},    {"WEFT_DEBUG", "INFO"},
             {"WEFT_DEBUG_SUBSYS", "bootstrap"}};
    o.stdout_path = dir + "/out." + std::to_string(r);
    o.stderr_path = dir + "/err." + std::to_string(r);
    procs.push_back(Subprocess::spawn(hosts.exec(r, {bin("comm_worker"), "matrix", "0", "1", "31", "4099"}), o));
  }
  for (int r = 0; r < n; ++r) {
    auto st = procs[r].wait_for(240s);
    ASSERT_TRUE(st.has_value()) << "rank " << r << " hung";
    std::string out = read_file(dir + "/out." + std::to_string(r));
    std::string err = read_file(dir + "/err." + std::to_string(r));
    EXPECT_TRUE(st->exited() && st->code == 0) << out << err;
    EXPECT_NE(out.find("code=OK"), std::string::npos) << out << err;
    // Every peer is reached over the veth interface, never loopback.
    EXPECT_NE(err.find("via eth0"), std::string::npos) << err;
    EXPECT_EQ(err.find("via lo"), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace weft::test
