// The communicator between real processes over loopback: this test hosts
// the store (embedded StoreServer), spawns comm_worker once per rank with
// RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT, and reads each rank's RESULT
// line. Many collective checks run inside one process launch.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "rank_group.h"
#include "subprocess.h"
#include "weft/store.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

class Ranks : public RankGroup {
 public:
  Ranks(int n, std::vector<std::string> args, const Env& env = {})
      : RankGroup("comm_worker", "comm", n, std::move(args), env) {}
};

// Every collective x dtype x op, sizes 0, 1, primes; all world sizes.
class Matrix : public ::testing::TestWithParam<int> {};
TEST_P(Matrix, EveryCollectiveDtypeOp) {
  const int n = GetParam();
  Ranks ranks(n, {"matrix", "0", "1", "7", "31", "257"});
  expect_all_ok(ranks.wait(240s), "matrix n=" + std::to_string(n));
}
INSTANTIATE_TEST_SUITE_P(World, Matrix, ::testing::Values(1, 2, 3, 4, 5, 8));

// 64 MiB allreduce and 1 MiB of every collective.
TEST(MultiProcess, LargeMessages) {
  for (int n : {3, 4}) {
    Ranks ranks(n, {"big"});
    expect_all_ok(ranks.wait(240s), "big n=" + std::to_string(n));
  }
}

TEST(MultiProcess, SplitByParity) {
  for (int n : {2, 5}) {
    Ranks ranks(n, {"split"});
    expect_all_ok(ranks.wait(60s), "split n=" + std::to_string(n));
  }
}

TEST(MultiProcess, SendRecvStorm) {
  Ranks ranks(4, {"storm"}, {{"WEFT_NSOCKS", "3"}});
  expect_all_ok(ranks.wait(120s), "storm");
}

// The thread that waits runs the queued collectives itself (comm_impl.h),
// the worker runs the rest: shared memory (2 and 4 ranks, 4 oversubscribe
// the CI's 2 cores) and sockets.
// The TRACE lines say which thread started each operation: both must occur.
TEST(MultiProcess, WaitingThreadsRunQueuedCollectives) {
  const Env trace = {{"WEFT_DEBUG", "TRACE"}, {"WEFT_DEBUG_SUBSYS", "comm"}};
  auto check = [](const std::vector<Result>& results, const std::string& what) {
    expect_all_ok(results, what);
    for (const auto& r : results) {
      EXPECT_NE(r.output.find(") on the waiting thread"), std::string::npos) << what << " rank " << r.rank;
      EXPECT_NE(r.output.find(") on the worker thread"), std::string::npos) << what << " rank " << r.rank;
    }
  };
  for (int n : {2, 4}) {
    Ranks ranks(n, {"help"}, trace);
    check(ranks.wait(120s), "help n=" + std::to_string(n));
  }
  Env sockets_env = trace;
  sockets_env.push_back({"WEFT_SHM_DISABLE", "1"});
  Ranks sockets(3, {"help"}, sockets_env);
  check(sockets.wait(120s), "help over sockets");
}

// --- failures ------------------------------------------------------------------------
TEST(MultiProcessFailure, KillDuringLargeAllreduceIsPeerLostWithin2s) {
  const int n = 4, victim = 2;
  Ranks ranks(n, {"loop"});
  // Let one 64 MiB allreduce complete, then kill a rank in the middle of the next.
  ASSERT_TRUE(ranks.wait_for_output(0, "ITER 0", 120s)) << "no allreduce completed";
  std::this_thread::sleep_for(50ms);
  const long long killed_at = now_ms();
  ranks.proc(victim).kill(SIGKILL);
  auto results = ranks.wait(30s, {victim});
  expect_peer_lost(results, victim, killed_at, {"peer rank 2", "allreduce #"});
}

TEST(MultiProcessFailure, MismatchedCounts) {
  Ranks ranks(3, {"mismatch", "count"});
  auto results = ranks.wait(60s);
  for (const auto& r : results) EXPECT_EQ(r.code, "Mismatch") << r.msg << "\n" << r.output;
  // Rank 1's own error names both sides.
  EXPECT_NE(results[1].msg.find("(999 x i32 sum"), std::string::npos) << results[1].msg;
  EXPECT_NE(results[1].msg.find("(1000 x i32 sum"), std::string::npos) << results[1].msg;
}

TEST(MultiProcessFailure, MismatchedOps) {
  Ranks ranks(4, {"mismatch", "op"});
  auto results = ranks.wait(60s);
  for (const auto& r : results) EXPECT_EQ(r.code, "Mismatch") << r.msg << "\n" << r.output;
  EXPECT_NE(results[1].msg.find("i32 max"), std::string::npos) << results[1].msg;
  EXPECT_NE(results[1].msg.find("i32 sum"), std::string::npos) << results[1].msg;
}

TEST(MultiProcessFailure, StalledRankTimesOutNamingIt) {
  const int n = 4, stalled = 2;
  Ranks ranks(n, {"stall", std::to_string(stalled)}, {{"WEFT_ALGO", "ring"}});
  auto results = ranks.wait(60s);
  // The ring successor waits for the stalled rank directly and names it; the
  // others fail with the same Timeout (their own or relayed).
  EXPECT_EQ(results[3].code, "Timeout") << results[3].msg << "\n" << results[3].output;
  EXPECT_NE(results[3].msg.find("peer rank 2"), std::string::npos) << results[3].msg;
  EXPECT_NE(results[3].msg.find("allreduce #0"), std::string::npos) << results[3].msg;
  for (int r : {0, 1}) EXPECT_EQ(results[r].code, "Timeout") << results[r].msg;
  EXPECT_NE(results[3].output.find("last "), std::string::npos)
      << "the op ring buffer is dumped on timeout:\n" << results[3].output;
}

TEST(MultiProcessFailure, AbortUnblocksEveryRank) {
  Ranks ranks(4, {"abort", "1"});
  auto results = ranks.wait(60s);
  for (const auto& r : results) {
    if (r.rank == 1) continue;
    EXPECT_TRUE(r.code == "Aborted" || r.code == "PeerLost") << r.code << ": " << r.msg;
    EXPECT_NE(r.msg.find("rank 1"), std::string::npos) << r.msg;
  }
}

// The same failures while the waiting thread runs the collective (1-element
// allreduces: never handed to the worker): the same errors as above.
TEST(MultiProcessFailure, KillWhileCallersRunSmallAllreducesIsPeerLostWithin2s) {
  const int n = 3, victim = 2;
  Ranks ranks(n, {"loop_small"});
  ASSERT_TRUE(ranks.wait_for_output(0, "ITER 200", 60s)) << "no allreduces completed";
  const long long killed_at = now_ms();
  ranks.proc(victim).kill(SIGKILL);
  auto results = ranks.wait(30s, {victim});
  expect_peer_lost(results, victim, killed_at, {"peer rank 2", "allreduce #"});
}

TEST(MultiProcessFailure, StalledRankTimesOutWhileCallersRunTheAllreduce) {
  const int n = 3, stalled = 2;
  Ranks ranks(n, {"stall_small", std::to_string(stalled)});
  auto results = ranks.wait(60s);
  for (int r : {0, 1}) {
    EXPECT_EQ(results[r].code, "Timeout") << results[r].msg << "\n" << results[r].output;
    EXPECT_NE(results[r].msg.find("rank " + std::to_string(r) + ": allreduce #0 (1 x i64 sum, 8 B)"),
              std::string::npos) << results[r].msg;
  }
  // At least the first to time out names the missing rank itself, and its
  // op log, dumped on the timeout, shows the operation running.
  int naming = -1;
  for (int r : {0, 1})
    if (results[r].msg.find("timed out waiting in shared memory for peer rank 2") !=
        std::string::npos)
      naming = r;
  ASSERT_GE(naming, 0) << results[0].msg << "\n" << results[1].msg;
  EXPECT_NE(results[naming].output.find("allreduce #0 (1 x i64 sum, 8 B) [3 ranks] running"),
            std::string::npos)
      << results[naming].output;
}

// A rank that times out tells its peers why, then exits. A peer that sees
// the exit before it has read the notice (here: stopped meanwhile, so both
// are there when it resumes) reports the timeout, the root cause, not the
// exit: rank 0 times out after 1 s, rank 1 (30 s) is stopped from before
// that until rank 0 is gone.
TEST(MultiProcessFailure, PeerThatTimedOutAndExitedIsReportedByItsTimeout) {
  const int n = 3, stalled = 2, patient = 1;
  Ranks ranks(n, {"stall_small", std::to_string(stalled), std::to_string(patient)});
  ASSERT_TRUE(ranks.wait_for_output(patient, "ENTERING", 60s)) << ranks.out(patient);
  std::this_thread::sleep_for(200ms);
  ranks.proc(patient).kill(SIGSTOP);
  const bool rank0_gone = ranks.proc(0).wait_for(20s).has_value();
  ranks.proc(patient).kill(SIGCONT);
  ASSERT_TRUE(rank0_gone) << ranks.out(0);
  auto results = ranks.wait(60s);
  EXPECT_EQ(results[0].code, "Timeout") << results[0].msg;
  EXPECT_EQ(results[patient].code, "Timeout") << results[patient].msg << "\n"
                                              << results[patient].output;
  EXPECT_NE(results[patient].msg.find("rank 0: allreduce #0 (1 x i64 sum, 8 B): timed out waiting "
                                      "in shared memory for peer rank 2 after 1 s"),
            std::string::npos)
      << results[patient].msg;
}

TEST(MultiProcessFailure, AbortWhileTheCallerRunsSmallAllreducesUnblocksEveryRank) {
  Ranks ranks(3, {"abort_small", "1"});
  auto results = ranks.wait(60s);
  EXPECT_EQ(results[1].code, "Aborted") << results[1].msg << "\n" << results[1].output;
  EXPECT_NE(results[1].msg.find("rank 1: communicator aborted by abort() (allreduce #"),
            std::string::npos)
      << results[1].msg;
  for (int r : {0, 2}) {
    EXPECT_TRUE(results[r].code == "Aborted" || results[r].code == "PeerLost")
        << results[r].code << ": " << results[r].msg;
    EXPECT_NE(results[r].msg.find("rank 1"), std::string::npos) << results[r].msg;
  }
}

}  // namespace
}  // namespace weft::test
