// The hierarchical collectives across real fake hosts: two network
// namespaces on a bridge (tests/common/netns), ranks 0 and 1 in the first,
// rank 2 in the second. Nothing fakes the host identity: it differs because
// the namespaces differ, so ranks 0 and 1 share memory and reach rank 2 over
// the veth interface. Rank 0 hosts the store (init_from_env). Skipped,
// with the reason, where namespaces cannot be made (not root, no `ip`);
// the namespaces are removed when the test ends, also when it fails.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "netns.h"
#include "subprocess.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

struct Rank {
  Subprocess proc;
  std::string out_path, err_path;
};

// Runs shm_worker `args` as 3 ranks on hosts {0, 0, 1}; returns each
// rank's stdout + stderr after checking it reported OK.
std::vector<std::string> run_ranks(const NetnsGroup& hosts, const std::vector<std::string>& args,
                                   const std::string& what) {
  const int n = 3;
  const int host_of[n] = {0, 0, 1};
  const std::string dir = make_temp_dir("netns-hier");
  const std::string port = std::to_string(29000 + (getpid() * 7 + static_cast<int>(what.size())) % 1000);
  std::vector<Rank> ranks;
  for (int r = 0; r < n; ++r) {
    Subprocess::Options o;
    o.env = {{"RANK", std::to_string(r)},       {"WORLD_SIZE", std::to_string(n)},
             {"MASTER_ADDR", hosts.address(0)}, {"MASTER_PORT", port},
             {"WEFT_SOCKET_IFNAME", "=eth0"},   {"WEFT_DEBUG", "INFO"},
             {"WEFT_DEBUG_SUBSYS", "coll,bootstrap"}};
    o.stdout_path = dir + "/out." + std::to_string(r);
    o.stderr_path = dir + "/err." + std::to_string(r);
    std::vector<std::string> argv = {bin("shm_worker")};
    argv.insert(argv.end(), args.begin(), args.end());
    ranks.push_back({Subprocess::spawn(hosts.exec(host_of[r], argv), o), o.stdout_path, o.stderr_path});
  }
  std::vector<std::string> outputs;
  for (int r = 0; r < n; ++r) {
    auto st = ranks[r].proc.wait_for(150s);
    if (!st) {
      ranks[r].proc.kill(SIGKILL);
      ranks[r].proc.wait_for(5s);
    }
    std::string output = read_file(ranks[r].out_path) + read_file(ranks[r].err_path);
    EXPECT_TRUE(st.has_value()) << what << ": rank " << r << " hung\n" << output;
    if (st) {
      EXPECT_TRUE(st->exited() && st->code == 0) << what << ": rank " << r << "\n" << output;
    }
    EXPECT_NE(output.find("code=OK"), std::string::npos) << what << ": rank " << r << "\n" << output;
    outputs.push_back(std::move(output));
  }
  return outputs;
}

void expect_log(const std::string& output, const std::string& line, int rank) {
  EXPECT_NE(output.find(line), std::string::npos) << "rank " << rank << " should log '" << line
                                                  << "':\n" << output;
}

TEST(NetnsHierarchical, TwoRanksOnOneHostOneOnAnother) {
  if (auto why = NetnsGroup::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  NetnsGroup hosts = NetnsGroup::create(2);
  // Every dtype and op, exact results (the checker's), roots on every rank;
  // 70001 elements put the leaders on their ring (above 256 KiB) for 4- and
  // 8-byte types.
  auto outputs = run_ranks(hosts, {"colls", "allreduce,reduce,broadcast", "1", "7", "1030", "70001"},
                           "matrix");
  for (int r = 0; r < 3; ++r) {
    expect_log(outputs[r], "allreduce uses hierarchical (3 ranks on 2 hosts", r);
    expect_log(outputs[r], "reduce uses hierarchical", r);
    expect_log(outputs[r], "broadcast uses hierarchical", r);
  }
  // Ranks 0 and 1 share a segment; rank 2 has none and reaches them over eth0.
  expect_log(outputs[0], "shared memory with ranks 0,1 ", 0);
  expect_log(outputs[1], "shared memory with ranks 0,1 ", 1);
  EXPECT_EQ(outputs[2].find("shared memory with ranks"), std::string::npos) << outputs[2];
  expect_log(outputs[2], "via eth0", 2);
  EXPECT_EQ(outputs[2].find("via lo"), std::string::npos) << outputs[2];

  // Several MiB at odd sizes: many rounds inside the host, the ring between.
  run_ranks(hosts, {"large", "allreduce,reduce,broadcast"}, "large");
}

}  // namespace
}  // namespace weft::test
