// The network-namespace fixture itself (tests/common/netns): hosts can reach
// each other, and every way out — destructor, failing command, dead owner —
// leaves no namespace behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "launcher_util.h"
#include "netns.h"
#include "subprocess.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

std::string netns_list() {
  std::string out;
  FILE* pipe = ::popen("ip netns list 2>/dev/null", "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

class NetnsFixture : public testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = NetnsGroup::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    dir_ = make_temp_dir("netns_fixture");
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(NetnsFixture, HostsReachEachOtherAndVanishWithTheGroup) {
  std::string tag;
  {
    NetnsGroup hosts = NetnsGroup::create(2);
    tag = hosts.tag();
    EXPECT_EQ(hosts.address(0), "10.213.0.1");
    EXPECT_EQ(hosts.address(1), "10.213.0.2");
    EXPECT_NE(netns_list().find(hosts.name(1)), std::string::npos);
    // A store in host 1, a client in host 0 over the private subnet.
    Started server = start_logged(hosts.exec(1, {bin("weft-store"), "serve", "--host", "0.0.0.0", "--port", "29555"}),
                                  dir_, "server");
    Started client =
        start_logged(hosts.exec(0, {bin("weft-store"), "ping", "--endpoint", hosts.address(1) + ":29555"}), dir_,
                     "client", {{"WEFT_STORE_CONNECT_TIMEOUT_S", "20"}});
    Finished f = finish(client, 30s);
    EXPECT_EQ(f.status.code, 0) << f.out << f.err;
    server.process.kill(SIGKILL);
    // The subnet exists only inside the namespaces: no interface of the
    // root namespace has an address in it.
    FILE* pipe = ::popen("ip -o addr show 2>/dev/null", "r");
    ASSERT_NE(pipe, nullptr);
    std::string addrs;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) addrs.append(buffer, n);
    ::pclose(pipe);
    EXPECT_FALSE(addrs.empty());
    EXPECT_EQ(addrs.find(" 10.213.0."), std::string::npos) << addrs;
  }
  EXPECT_EQ(netns_list().find(tag), std::string::npos) << netns_list();
}

TEST_F(NetnsFixture, RunCleansUpWhenTheCommandFails) {
  Started run = start_logged({"/bin/bash", NetnsGroup::script(), "run", "2", "--", "/bin/sh", "-c",
                              "echo $NETNS_0 $NETNS_ADDR_1; exit 3"},
                             dir_, "run");
  Finished f = finish(run, 30s);
  EXPECT_EQ(f.status.code, 3) << f.err;
  std::istringstream out(f.out);
  std::string name, address;
  out >> name >> address;
  EXPECT_EQ(address, "10.213.0.2");
  ASSERT_FALSE(name.empty());
  EXPECT_EQ(netns_list().find(name.substr(0, name.size() - 2)), std::string::npos) << netns_list();
}

TEST_F(NetnsFixture, GcRemovesNamespacesOfDeadOwners) {
  // An owner pid that cannot be alive: beyond pid_max.
  char hex[8];
  std::snprintf(hex, sizeof hex, "%04x", static_cast<unsigned>(::getpid()) & 0xffff);
  std::string tag = std::string("wft-4999999-") + hex;
  Started up = start_logged({"/bin/bash", NetnsGroup::script(), "up", tag, "1"}, dir_, "up");
  Finished made = finish(up, 30s);
  ASSERT_EQ(made.status.code, 0) << made.err;
  // (Not checked with `ip netns list`: a test running in parallel may
  // garbage-collect it first, which is what this test is about anyway.)
  ASSERT_EQ(made.out, tag + "-0 10.213.0.1\n");
  Started gc = start_logged({"/bin/bash", NetnsGroup::script(), "gc"}, dir_, "gc");
  EXPECT_EQ(finish(gc, 30s).status.code, 0);
  EXPECT_EQ(netns_list().find(tag), std::string::npos) << netns_list();
}

}  // namespace
}  // namespace weft::test
