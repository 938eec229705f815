// weftrun across hosts: three network namespaces (tests/common/netns) stand in
// for three machines; one weftrun agent runs in each, all pointed at the
// address of the first one, which hosts the store.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "launcher_util.h"
#include "netns.h"
#include "subprocess.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

constexpr int kHosts = 3;
constexpr int kPerHost = 2;

class WeftrunHosts : public testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = NetnsGroup::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    hosts_.emplace(NetnsGroup::create(kHosts));
    dir_ = make_temp_dir("weftrun_netns");
  }
  void TearDown() override {
    agents_.clear();  // kills whatever still runs before the namespaces go
    hosts_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Starts the agent of host i (agents of later hosts first when `order` says so).
  void start_agent(int i, const std::vector<std::string>& extra, const std::vector<std::string>& worker) {
    std::vector<std::string> args = {bin("weftrun"), "--nnodes", std::to_string(kHosts), "--nproc-per-node",
                                     std::to_string(kPerHost), "--rdzv-backend", "c10d", "--rdzv-endpoint",
                                     hosts_->address(0) + ":29400", "--rdzv-id", "netns-job",
                                     "--local-addr", hosts_->address(i)};
    args.insert(args.end(), extra.begin(), extra.end());
    auto w = worker_argv(worker);
    args.insert(args.end(), w.begin(), w.end());
    agents_.insert_or_assign(i, start_logged(hosts_->exec(i, args), dir_, "agent" + std::to_string(i),
                              {{"WEFT_HOST_ID", "host" + std::to_string(i)}}));
  }

  std::optional<NetnsGroup> hosts_;
  std::string dir_;
  std::map<int, Started> agents_;
};

TEST_F(WeftrunHosts, AgentsAgreeOnRanksAndShareTheStore) {
  // Agents that join start before the one that hosts the store: they retry.
  for (int i = kHosts - 1; i >= 0; --i) start_agent(i, {}, {"--out", dir_, "--barrier"});
  std::map<int, Finished> done;
  for (int i = 0; i < kHosts; ++i) {
    done[i] = finish(agents_.at(i), 60s);
    EXPECT_EQ(done[i].status.code, 0) << "agent " << i << ":\n" << done[i].err;
  }
  const int world = kHosts * kPerHost;
  std::set<std::string> node_ranks_seen, hosts_seen;
  for (int r = 0; r < world; ++r) {
    EnvFile e = read_env_file(dir_, r);
    ASSERT_FALSE(e.empty()) << "rank " << r << " wrote nothing";
    EXPECT_EQ(e["RANK"], std::to_string(r));
    EXPECT_EQ(e["WORLD_SIZE"], std::to_string(world));
    EXPECT_EQ(e["LOCAL_WORLD_SIZE"], std::to_string(kPerHost));
    EXPECT_EQ(e["GROUP_WORLD_SIZE"], std::to_string(kHosts));
    // Ranks are laid out node by node.
    EXPECT_EQ(std::stoi(e["RANK"]), std::stoi(e["GROUP_RANK"]) * kPerHost + std::stoi(e["LOCAL_RANK"]));
    EXPECT_EQ(e["MASTER_ADDR"], hosts_->address(0));
    EXPECT_EQ(e["MASTER_PORT"], "29400");
    EXPECT_EQ(e["WEFT_RUN_ID"], "netns-job");
    EXPECT_EQ(e["STORE"], "arrived=" + std::to_string(world));  // one store, every worker in it
    if (std::stoi(e["LOCAL_RANK"]) == 0) {
      node_ranks_seen.insert(e["GROUP_RANK"]);
      hosts_seen.insert(e["WEFT_HOST_ID"]);
    }
    // Both workers of a node come from the same host.
    EXPECT_EQ(e["WEFT_HOST_ID"], read_env_file(dir_, std::stoi(e["GROUP_RANK"]) * kPerHost)["WEFT_HOST_ID"]);
  }
  EXPECT_EQ(node_ranks_seen.size(), static_cast<size_t>(kHosts));
  EXPECT_EQ(hosts_seen.size(), static_cast<size_t>(kHosts));
  EXPECT_NE(done[0].err.find("store " + hosts_->address(0) + ":29400, hosted by this agent"), std::string::npos)
      << done[0].err;
  EXPECT_NE(done[1].err.find("store " + hosts_->address(0) + ":29400, hosted by the agent on host host0"),
            std::string::npos)
      << done[1].err;
  // For docs/weftrun.md: the output of a real run.
  std::printf("---- agent outputs ----\n");
  for (int i = 0; i < kHosts; ++i) std::printf("[agent %d stderr]\n%s", i, done[i].err.c_str());
}

struct KillCase {
  const char* name;
  int victim;             // whose agent is killed with SIGKILL
  const char* expected;   // what the survivors must say
};

void PrintTo(const KillCase& c, std::ostream* os) { *os << c.name; }

class WeftrunAgentKilled : public WeftrunHosts, public testing::WithParamInterface<KillCase> {};

TEST_P(WeftrunAgentKilled, SurvivorsStopAndNameIt) {
  const KillCase& c = GetParam();
  // 0.5 s heartbeats, 4 missed ones: a silent agent is noticed after ~2 s.
  std::vector<std::string> extra = {"--rdzv-conf", "keep_alive_interval=0.5,keep_alive_max_attempt=4"};
  for (int i = 0; i < kHosts; ++i) start_agent(i, extra, {"--out", dir_, "--barrier", "--sleep", "60"});
  ASSERT_TRUE(wait_env_files(dir_, kHosts * kPerHost, 30s));

  // Which node rank did the victim get? Its workers know.
  std::string victim_host = "host" + std::to_string(c.victim);
  std::string victim_node;
  for (int r = 0; r < kHosts * kPerHost; ++r)
    if (read_env_file(dir_, r)["WEFT_HOST_ID"] == victim_host) victim_node = read_env_file(dir_, r)["GROUP_RANK"];
  ASSERT_FALSE(victim_node.empty());

  auto killed_at = std::chrono::steady_clock::now();
  agents_.at(c.victim).process.kill(SIGKILL);
  std::string expected = std::string(c.expected) + victim_host;
  if (c.victim != 0) expected += " (node rank " + victim_node + ") stopped heartbeating";
  for (int i = 0; i < kHosts; ++i) {
    if (i == c.victim) continue;
    Finished f = finish(agents_.at(i), 30s);
    double after_kill = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
    EXPECT_FALSE(f.timed_out);
    EXPECT_NE(f.status.code, 0) << f.err;
    EXPECT_LT(after_kill, 10.0) << f.err;
    EXPECT_NE(f.err.find(expected), std::string::npos) << "expected: " << expected << "\nagent " << i << ":\n"
                                                       << f.err;
  }
  // No worker outlives the job: the victim's die with their agent
  // (PR_SET_PDEATHSIG), the others are stopped by theirs.
  for (int r = 0; r < kHosts * kPerHost; ++r) {
    int pid = std::stoi(read_env_file(dir_, r)["PID"]);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (process_alive(pid) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(process_alive(pid)) << "rank " << r << " still runs";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kill, WeftrunAgentKilled,
    testing::Values(KillCase{"joined_agent", 2, "weftrun: agent on host "},
                    KillCase{"store_host", 0, "hosted by the agent on host "}),
    [](const testing::TestParamInfo<KillCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace weft::test
