// weft and the comparators across network namespaces (the multi-host stand-in): two
// namespaces joined by a bridge in the root namespace; Gloo binds each rank to
// the namespace's eth0, Open MPI runs its TCP btl over the bridge subnet.
// Needs root and iproute2; skipped otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "launcher.h"
#include "subprocess.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// A bridge and two namespaces with one veth each, removed on destruction.
class Namespaces {
 public:
  Namespaces() {
    tag_ = std::to_string(::getpid() % 100000);
    bridge_ = "wpcbr" + tag_;
    // A /24 per process id, so concurrent runs do not collide.
    subnet_ = "10.232." + std::to_string(::getpid() % 250) + ".";
    ok_ = sh("ip link add " + bridge_ + " type bridge") == 0 &&
          sh("ip addr add " + subnet_ + "254/24 dev " + bridge_) == 0 &&
          sh("ip link set " + bridge_ + " up") == 0;
    for (int i = 1; ok_ && i <= 2; ++i) {
      std::string ns = name(i - 1), host = "wpch" + tag_ + "_" + std::to_string(i),
                  peer = "wpcp" + tag_ + "_" + std::to_string(i);
      ok_ = sh("ip netns add " + ns) == 0 &&
            sh("ip link add " + host + " type veth peer name " + peer) == 0 &&
            sh("ip link set " + host + " master " + bridge_ + " up") == 0 &&
            sh("ip link set " + peer + " netns " + ns) == 0 &&
            sh("ip -n " + ns + " link set " + peer + " name eth0") == 0 &&
            sh("ip -n " + ns + " addr add " + subnet_ + std::to_string(i) + "/24 dev eth0") == 0 &&
            sh("ip -n " + ns + " link set eth0 up") == 0 &&
            sh("ip -n " + ns + " link set lo up") == 0;
    }
  }
  ~Namespaces() {
    for (int i = 0; i < 2; ++i) sh("ip netns del " + name(i));
    sh("ip link del " + bridge_);
  }
  bool ok() const { return ok_; }
  std::string name(int i) const { return "wpc" + tag_ + "_" + std::to_string(i); }
  const std::string& bridge() const { return bridge_; }
  std::string subnet_cidr() const { return subnet_ + "0/24"; }
  std::string bridge_address() const { return subnet_ + "254"; }

 private:
  std::string tag_, bridge_, subnet_;
  bool ok_ = false;
};

TEST(RunnersAcrossNamespaces, AllreduceTwoNamespaces) {
  for (const char* c : {"weft-perf", "weft-perf-gloo", "weft-perf-mpi"}) {
    if (::access(test::bin(c).c_str(), X_OK) != 0) GTEST_SKIP() << c << " not built";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
  Namespaces net;
  if (!net.ok()) GTEST_SKIP() << "cannot create network namespaces here";

  LaunchSpec spec;
  spec.bin_dir = test::bin_dir();
  spec.nranks = 2;
  spec.sweep.min_bytes = 4 << 10;
  spec.sweep.max_bytes = 64 << 10;
  spec.sweep.iters = 2;
  spec.sweep.warmup = 1;
  spec.timeout = std::chrono::seconds(90);
  spec.rank_prefix = [&net](int r) {
    return std::vector<std::string>{"ip", "netns", "exec", net.name(r)};
  };
  spec.gloo_iface = "eth0";
  spec.mpirun_args = {"--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include",
                      net.subnet_cidr(), "--mca", "oob_tcp_if_include", net.bridge()};
  spec.mpirun_env = {{"PMIX_MCA_ptl_tcp_if_include", net.bridge()},
                     {"PMIX_MCA_ptl_tcp_remote_connections", "1"}};
  // weft's ranks dial the store this process hosts on the bridge.
  spec.master_addr = net.bridge_address();
  for (const char* lib : {"weft", "gloo", "mpi"}) {
    SCOPED_TRACE(lib);
    Result r = run_library(lib, spec);
    EXPECT_EQ(r.nranks, 2);
    EXPECT_EQ(r.rows.size(), 10u);  // 5 sizes x 2 placements
    EXPECT_EQ(r.total_wrong(), 0u);
  }
}

}  // namespace
}  // namespace weft::perf
