// weftrun on one host: real weftrun processes starting real workers
// (weftrun_test_worker), checked through the files the workers write and
// weftrun's own output.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "launcher_util.h"
#include "subprocess.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

std::string host_name() {
  char name[256] = {0};
  ::gethostname(name, sizeof name - 1);
  return name;
}

class Weftrun : public testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("weftrun"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Finished run(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env = {},
               std::chrono::milliseconds timeout = 30s) {
    Started s = start_logged(weftrun_argv(args), dir_, "weftrun", env);
    return finish(s, timeout);
  }
  std::string dir_;
};

// ---- environment ------------------------------------------------------------

class WeftrunEnv : public Weftrun, public testing::WithParamInterface<int> {};

TEST_P(WeftrunEnv, WorkersGetTorchrunVariablesAndReachTheStore) {
  const int n = GetParam();
  auto args = std::vector<std::string>{"--standalone", "--nproc-per-node", std::to_string(n), "--rdzv-id",
                                       "envtest"};
  auto worker = worker_argv({"--out", dir_, "--barrier"});
  args.insert(args.end(), worker.begin(), worker.end());
  Finished f = run(args, {{"CUDA_VISIBLE_DEVICES", "3,5"}});
  ASSERT_EQ(f.status.code, 0) << f.err;
  ASSERT_EQ(f.status.signal, 0);

  std::set<std::string> ports;
  for (int r = 0; r < n; ++r) {
    EnvFile e = read_env_file(dir_, r);
    ASSERT_FALSE(e.empty()) << "rank " << r << " wrote nothing";
    std::string R = std::to_string(r), N = std::to_string(n);
    EXPECT_EQ(e["RANK"], R);
    EXPECT_EQ(e["LOCAL_RANK"], R);
    EXPECT_EQ(e["WORLD_SIZE"], N);
    EXPECT_EQ(e["LOCAL_WORLD_SIZE"], N);
    EXPECT_EQ(e["GROUP_RANK"], "0");
    EXPECT_EQ(e["GROUP_WORLD_SIZE"], "1");
    EXPECT_EQ(e["ROLE_RANK"], R);
    EXPECT_EQ(e["ROLE_WORLD_SIZE"], N);
    EXPECT_EQ(e["ROLE_NAME"], "default");
    EXPECT_EQ(e["MASTER_ADDR"], "localhost");
    EXPECT_EQ(e["WEFT_RUN_ID"], "envtest");
    EXPECT_EQ(e["TORCHELASTIC_RUN_ID"], "envtest");
    EXPECT_EQ(e["WEFT_RESTART_COUNT"], "0");
    EXPECT_EQ(e["TORCHELASTIC_RESTART_COUNT"], "0");
    EXPECT_EQ(e["TORCHELASTIC_MAX_RESTARTS"], "0");
    EXPECT_EQ(e["TORCHELASTIC_USE_AGENT_STORE"], "True");
    EXPECT_EQ(e["OMP_NUM_THREADS"], "1");
    EXPECT_EQ(e["CUDA_VISIBLE_DEVICES"], "3,5");  // untouched
    // Every worker reached the agent's store and saw all n arrive there.
    EXPECT_EQ(e["STORE"], "arrived=" + N);
    ports.insert(e["MASTER_PORT"]);
  }
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_GT(std::stoi(*ports.begin()), 0);
  // torchrun's note about OMP_NUM_THREADS, once, only with several workers.
  EXPECT_EQ(count_occurrences(f.err, "OMP_NUM_THREADS=1"), n > 1 ? 1u : 0u) << f.err;
}

INSTANTIATE_TEST_SUITE_P(Workers, WeftrunEnv, testing::Values(1, 4, 9));

TEST_F(Weftrun, KeepsOmpNumThreadsAndReadsPetVariables) {
  // PET_* instead of options; OMP_NUM_THREADS set by the user survives.
  std::vector<std::string> argv = {bin("weftrun"), "--", bin("weftrun_test_worker"), "--out", dir_};
  Started s = start_logged(argv, dir_, "pet",
                           {{"PET_STANDALONE", "1"}, {"PET_NPROC_PER_NODE", "2"}, {"OMP_NUM_THREADS", "6"}});
  Finished f = finish(s, 30s);
  ASSERT_EQ(f.status.code, 0) << f.err;
  for (int r = 0; r < 2; ++r) {
    EnvFile e = read_env_file(dir_, r);
    EXPECT_EQ(e["WORLD_SIZE"], "2");
    EXPECT_EQ(e["OMP_NUM_THREADS"], "6");
  }
  EXPECT_EQ(count_occurrences(f.err, "OMP_NUM_THREADS=1"), 0u);
}

// ---- output -----------------------------------------------------------------

TEST_F(Weftrun, PrefixesEveryLineWithTheRank) {
  auto args = std::vector<std::string>{"--standalone", "--nproc-per-node", "3"};
  auto worker = worker_argv({"--chatter"});
  args.insert(args.end(), worker.begin(), worker.end());
  Finished f = run(args);
  ASSERT_EQ(f.status.code, 0) << f.err;

  // stdout: only prefixed worker lines, each whole, in order per rank.
  std::istringstream out(f.out);
  std::string line;
  std::map<int, std::vector<std::string>> by_rank;
  std::regex prefixed(R"(\[(\d+)\]:(.*))");
  while (std::getline(out, line)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, prefixed)) << "unprefixed stdout line: '" << line << "'";
    by_rank[std::stoi(m[1])].push_back(m[2]);
  }
  ASSERT_EQ(by_rank.size(), 3u) << f.out;
  for (int r = 0; r < 3; ++r) {
    std::string R = std::to_string(r);
    EXPECT_EQ(by_rank[r], (std::vector<std::string>{"hello from rank " + R, "piece-and-rest of rank " + R,
                                                     "unterminated from rank " + R}))
        << f.out;
    // stderr lines go to stderr, prefixed too.
    EXPECT_NE(f.err.find("[" + R + "]:to stderr from rank " + R + "\n"), std::string::npos) << f.err;
  }
  EXPECT_EQ(f.out.find("to stderr"), std::string::npos);
}

TEST_F(Weftrun, LogDirKeepsPerRankFilesAndRedirectsHideTheConsole) {
  auto args = std::vector<std::string>{"--standalone", "--nproc-per-node", "2", "--rdzv-id", "logs",
                                       "--log-dir", dir_ + "/logs", "--redirects", "3"};
  auto worker = worker_argv({"--chatter"});
  args.insert(args.end(), worker.begin(), worker.end());
  Finished f = run(args);
  ASSERT_EQ(f.status.code, 0) << f.err;
  EXPECT_EQ(f.out, "");  // redirected: nothing of the workers on the console
  EXPECT_EQ(f.err.find("to stderr"), std::string::npos) << f.err;
  for (int r = 0; r < 2; ++r) {
    std::string R = std::to_string(r);
    std::string base = dir_ + "/logs/logs/attempt_0/rank_" + R;
    EXPECT_EQ(read_file(base + "/stdout.log"), "hello from rank " + R + "\npiece-and-rest of rank " + R +
                                                   "\nunterminated from rank " + R);
    EXPECT_EQ(read_file(base + "/stderr.log"), "to stderr from rank " + R + "\n");
  }
}

// ---- failures -----------------------------------------------------------------

TEST_F(Weftrun, PropagatesTheExitCode) {
  auto args = std::vector<std::string>{"--standalone", "--nproc-per-node", "2"};
  auto worker = worker_argv({"--fail-rank", "0", "--exit", "7"});
  args.insert(args.end(), worker.begin(), worker.end());
  Finished f = run(args);
  EXPECT_EQ(f.status.signal, 0);
  EXPECT_EQ(f.status.code, 7) << f.err;
  std::regex line(R"(weftrun: rank 0 \(host )" + host_name() + R"(, local rank 0, pid \d+\) exited with code 7\n)");
  EXPECT_TRUE(std::regex_search(f.err, line)) << f.err;
  EXPECT_EQ(count_occurrences(f.err, "exited with code"), 1u) << f.err;
}

struct CrashCase {
  const char* name;
  std::vector<std::string> fail_args;
  int expected_exit;
  const char* expected_status;
};

// Readable test names in ctest's list instead of the struct's bytes.
void PrintTo(const CrashCase& c, std::ostream* os) { *os << c.name; }

class WeftrunCrash : public Weftrun, public testing::WithParamInterface<CrashCase> {};

TEST_P(WeftrunCrash, StopsTheOthersWithinFiveSecondsAndNamesTheRank) {
  const CrashCase& c = GetParam();
  auto args = std::vector<std::string>{"--standalone", "--nproc-per-node", "4"};
  // The others sleep a minute and ignore SIGTERM: only the SIGKILL after the
  // grace period stops them, the slowest path.
  std::vector<std::string> w = {"--out", dir_, "--fail-rank", "2", "--stderr-lines", "3", "--sleep", "60",
                                "--ignore-term"};
  w.insert(w.end(), c.fail_args.begin(), c.fail_args.end());
  auto worker = worker_argv(w);
  args.insert(args.end(), worker.begin(), worker.end());
  Finished f = run(args);
  ASSERT_FALSE(f.timed_out) << f.err;
  EXPECT_EQ(f.status.code, c.expected_exit) << f.err;
  // Startup + 0.2 s before the failure + at most 5 s to stop the rest.
  EXPECT_LT(f.seconds, 6.0) << f.err;

  EnvFile failed = read_env_file(dir_, 2);
  ASSERT_FALSE(failed.empty());
  std::string expected = "weftrun: rank 2 (host " + host_name() + ", local rank 2, pid " + failed["PID"] + ") " +
                         c.expected_status + "\n";
  EXPECT_NE(f.err.find(expected), std::string::npos) << "expected: " << expected << "got:\n" << f.err;
  EXPECT_NE(f.err.find("weftrun: last 3 lines of rank 2's stderr:\n  [2]:rank 2 stderr line 0\n"
                       "  [2]:rank 2 stderr line 1\n  [2]:rank 2 stderr line 2\n"),
            std::string::npos)
      << f.err;
  for (int r : {0, 1, 3}) {
    EnvFile e = read_env_file(dir_, r);
    ASSERT_FALSE(e.empty());
    EXPECT_FALSE(process_alive(std::stoi(e["PID"]))) << "rank " << r << " still runs";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Failures, WeftrunCrash,
    testing::Values(CrashCase{"exit3", {"--exit", "3"}, 3, "exited with code 3"},
                    CrashCase{"kill9", {"--crash"}, 128 + SIGKILL, "killed by SIGKILL"}),
    [](const testing::TestParamInfo<CrashCase>& info) { return std::string(info.param.name); });

TEST_F(Weftrun, RestartsTheWholeGroup) {
  auto args = std::vector<std::string>{"--standalone", "--nproc-per-node", "3", "--max-restarts", "2"};
  auto worker = worker_argv({"--out", dir_, "--barrier", "--fail-rank", "1", "--exit", "4", "--fail-restart", "0"});
  args.insert(args.end(), worker.begin(), worker.end());
  Finished f = run(args);
  ASSERT_EQ(f.status.code, 0) << f.err;
  EXPECT_EQ(count_occurrences(f.err, "exited with code 4"), 1u) << f.err;
  EXPECT_NE(f.err.find("weftrun: restarting the worker group (restart 1 of at most 2)"), std::string::npos);
  for (int r = 0; r < 3; ++r) {
    EnvFile e = read_env_file(dir_, r);  // rewritten by the second round
    EXPECT_EQ(e["WEFT_RESTART_COUNT"], "1");
    EXPECT_EQ(e["TORCHELASTIC_RESTART_COUNT"], "1");
    EXPECT_EQ(e["TORCHELASTIC_MAX_RESTARTS"], "2");
    EXPECT_EQ(e["STORE"], "arrived=3");
  }
}

TEST_F(Weftrun, GivesUpAfterMaxRestarts) {
  auto args = std::vector<std::string>{"--standalone", "--nproc-per-node", "2", "--max-restarts", "1"};
  auto worker = worker_argv({"--fail-rank", "1", "--exit", "4"});
  args.insert(args.end(), worker.begin(), worker.end());
  Finished f = run(args);
  EXPECT_EQ(f.status.code, 4) << f.err;
  EXPECT_EQ(count_occurrences(f.err, "exited with code 4"), 2u) << f.err;
  EXPECT_EQ(count_occurrences(f.err, "restarting the worker group"), 1u) << f.err;
}

class WeftrunSignal : public Weftrun, public testing::WithParamInterface<int> {};

TEST_P(WeftrunSignal, ReachesEveryWorker) {
  const int sig = GetParam();
  auto args = std::vector<std::string>{"--standalone", "--nproc-per-node", "3"};
  auto worker = worker_argv({"--out", dir_, "--sleep", "60", "--record-signal"});
  args.insert(args.end(), worker.begin(), worker.end());
  Started s = start_logged(weftrun_argv(args), dir_, "weftrun");
  ASSERT_TRUE(wait_env_files(dir_, 3, 20s));
  // weftrun_argv starts /usr/bin/env, which execs weftrun: same pid.
  s.process.kill(sig);
  Finished f = finish(s, 10s);
  EXPECT_EQ(f.status.code, 128 + sig) << f.err;
  std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
  EXPECT_NE(f.err.find("weftrun: agent on host " + host_name() + " (node rank 0) received " + name),
            std::string::npos)
      << f.err;
  for (int r = 0; r < 3; ++r) {
    // Each worker got the very signal weftrun got.
    EXPECT_EQ(read_file(dir_ + "/rank_" + std::to_string(r) + ".signal"), std::to_string(sig) + "\n");
    EXPECT_FALSE(process_alive(std::stoi(read_env_file(dir_, r)["PID"])));
  }
}

INSTANTIATE_TEST_SUITE_P(Signals, WeftrunSignal, testing::Values(SIGINT, SIGTERM));

TEST_F(Weftrun, RunsPythonScripts) {
  std::string script = dir_ + "/hello.py";
  std::ofstream(script) << "import os, sys\nprint('rank', os.environ['RANK'], 'args', sys.argv[1:])\n";
  Finished f = run({"--standalone", "--nproc-per-node", "2", script, "--flag", "x"});
  if (f.status.code != 0 && f.err.find("cannot execute 'python3'") != std::string::npos)
    GTEST_SKIP() << "python3 is not installed: " << f.err;
  ASSERT_EQ(f.status.code, 0) << f.err;
  EXPECT_NE(f.out.find("[0]:rank 0 args ['--flag', 'x']\n"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("[1]:rank 1 args ['--flag', 'x']\n"), std::string::npos) << f.out;
}

TEST_F(Weftrun, ReportsAProgramThatCannotStart) {
  Finished f = run({"--standalone", "--", "/nonexistent/program"});
  EXPECT_EQ(f.status.code, 127) << f.err;
  EXPECT_NE(f.err.find("weftrun: rank 0 (host " + host_name() +
                       ", local rank 0) could not start: cannot execute '/nonexistent/program' "
                       "(/nonexistent/program): No such file or directory"),
            std::string::npos)
      << f.err;
}

TEST_F(Weftrun, RendezvousTimeoutSaysHowManyArrived) {
  // Two nodes expected, only this one comes: the join timeout names the count.
  Finished f = run({"--nnodes", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:0", "--rdzv-conf",
                    "join_timeout=1,is_host=true", "--", "/bin/true"});
  EXPECT_EQ(f.status.code, 1) << f.err;
  EXPECT_NE(f.err.find("timed out after 1 s waiting for agents: 1 of 2 agents arrived (--nnodes 2; "
                       "raise the limit with --rdzv-conf join_timeout=SECONDS)"),
            std::string::npos)
      << f.err;
}

TEST_F(Weftrun, TwoAgentsOnOneHostShareTheStore) {
  // Both agents see the endpoint as local: the first to bind hosts the store,
  // the other finds the port taken and joins it as a client (torchrun's rule).
  // Both agents start at once, so their listen() calls can overlap: that once
  // left neither hosting in CI (see Net.TwoProcessesListeningOnOnePortAtOnce...).
  // A 20 s join timeout (not the 600 s default) makes a stuck rendezvous end
  // with each agent's own account of it inside the test's 60 s, instead of a
  // ctest kill that shows neither.
  std::string endpoint = "127.0.0.1:" + std::to_string(free_port());
  std::vector<Started> agents;
  for (int i = 0; i < 2; ++i) {
    auto args = std::vector<std::string>{"--nnodes", "2", "--nproc-per-node", "2", "--rdzv-backend", "c10d",
                                         "--rdzv-endpoint", endpoint, "--rdzv-id", "two-agents",
                                         "--rdzv-conf", "join_timeout=20"};
    auto worker = worker_argv({"--out", dir_, "--barrier"});
    args.insert(args.end(), worker.begin(), worker.end());
    agents.push_back(start_logged(weftrun_argv(args), dir_, "agent" + std::to_string(i)));
  }
  int hosting = 0;
  for (auto& a : agents) {
    Finished f = finish(a, 25s);
    EXPECT_EQ(f.status.code, 0) << "endpoint " << endpoint << "\n" << f.err;
    hosting += f.err.find("hosted by this agent") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(hosting, 1);
  std::set<std::string> groups;
  for (int r = 0; r < 4; ++r) {
    EnvFile e = read_env_file(dir_, r);
    EXPECT_EQ(e["WORLD_SIZE"], "4");
    EXPECT_EQ(e["STORE"], "arrived=4");
    groups.insert(e["GROUP_RANK"]);
  }
  EXPECT_EQ(groups, (std::set<std::string>{"0", "1"}));
}

TEST_F(Weftrun, AnAgentThatCouldNotHostTheStoreSaysWhy) {
  // The port is bound (without SO_REUSEADDR) but nobody listens: the agent
  // cannot host the store, cannot reach one either, and must say both.
  int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t length = sizeof addr;
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  std::string port = std::to_string(ntohs(addr.sin_port));
  Finished f = run({"--nnodes", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:" + port,
                    "--rdzv-conf", "join_timeout=1", "--", "/bin/true"});
  ::close(holder);
  EXPECT_EQ(f.status.code, 1) << f.err;
  EXPECT_NE(f.err.find("weftrun: could not connect to the store at 127.0.0.1:" + port + " for "),
            std::string::npos)
      << f.err;
  EXPECT_NE(f.err.find("Connection refused (errno 111); this agent tried to host it and could not: listening on "
                       "0.0.0.0:" + port + ": Address already in use (errno 98)"),
            std::string::npos)
      << f.err;
}

TEST_F(Weftrun, RefusesADuplicateNodeRank) {
  std::string endpoint = "127.0.0.1:" + std::to_string(free_port());
  std::vector<Started> agents;
  for (int i = 0; i < 2; ++i)
    agents.push_back(start_logged(weftrun_argv({"--nnodes", "2", "--node-rank", "1", "--rdzv-backend", "c10d",
                                                "--rdzv-endpoint", endpoint, "--rdzv-conf", "join_timeout=3",
                                                "--", "/bin/true"}),
                                  dir_, "agent" + std::to_string(i)));
  std::string all;
  for (auto& a : agents) {
    Finished f = finish(a, 30s);
    EXPECT_NE(f.status.code, 0) << f.err;
    all += f.err;
  }
  std::regex duplicate(R"(weftrun: node rank 1 is claimed both by host \S+ \(pid \d+\) and by this agent on )"
                       R"(host \S+ \(pid \d+\); give every node a distinct --node-rank)");
  EXPECT_TRUE(std::regex_search(all, duplicate)) << all;
}

}  // namespace
}  // namespace weft::test
