// The shared-memory point-to-point transport between real processes: this
// test hosts the store, spawns shm_p2p_worker once per rank, and reads each
// rank's RESULT line and log (WEFT_DEBUG=INFO for bootstrap and transport:
// "peer rank q ... transport shm" at init says which transport serves each
// peer, and the socket transport logs every connection it opens).
#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <regex>
#include <thread>

#include "rank_group.h"
#include "subprocess.h"
#include "weft/error.h"
#include "weft/store.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

// Ranks log which transport serves each peer and every TCP connection.
class Ranks : public RankGroup {
 public:
  Ranks(int n, std::vector<std::string> args, Env env = {})
      : RankGroup("shm_p2p_worker", "shmp2p", n, std::move(args), with_logs(std::move(env))) {}

 private:
  static Env with_logs(Env env) {
    env.push_back({"WEFT_DEBUG", "INFO"});
    env.push_back({"WEFT_DEBUG_SUBSYS", "bootstrap,transport"});
    return env;
  }
};

bool logged(const Result& r, const std::string& text) {
  return r.output.find(text) != std::string::npos;
}

// Every peer of every rank through shared memory, and not one TCP
// connection opened between them (the socket transport logs each).
void expect_all_shm(const std::vector<Result>& results) {
  const int n = static_cast<int>(results.size());
  for (const auto& r : results) {
    for (int q = 0; q < n; ++q) {
      if (q == r.rank) continue;
      std::regex line(str("rank ", r.rank, ": peer rank ", q, " \\(.*via shared memory, transport shm"));
      EXPECT_TRUE(std::regex_search(r.output, line))
          << "rank " << r.rank << " should reach rank " << q << " through shm:\n" << r.output;
    }
    EXPECT_TRUE(logged(r, "transport shm+socket")) << r.output;
    EXPECT_FALSE(logged(r, ": socket, ")) << "a TCP connection was opened:\n" << r.output;
  }
}

// Names in /dev/shm of segments created by one of `pids` (/weft-<creator pid>-...).
std::vector<std::string> segments_of(const std::vector<pid_t>& pids) {
  std::vector<std::string> found;
  DIR* dir = ::opendir("/dev/shm");
  if (!dir) return found;
  while (dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    for (pid_t p : pids)
      if (name.rfind("weft-" + std::to_string(p) + "-", 0) == 0) found.push_back(name);
  }
  ::closedir(dir);
  return found;
}

TEST(ShmP2p, InterleavedTagsPeersAndSizesUpToSeveralMiB) {
  // 3 ranks, 2 rounds: 64 messages per pair and direction per round, posted
  // in shuffled orders, 0 B .. 5 MiB with 1 MiB rings.
  Ranks ranks(3, {"pairs", "2"});
  auto results = ranks.wait(30s);
  expect_all_ok(results, "pairs");
  expect_all_shm(results);
  for (const auto& r : results) EXPECT_TRUE(logged(r, "rings of 1024 KiB per pair")) << r.output;
}

TEST(ShmP2p, SmallRingsManyWraps) {
  Ranks ranks(2, {"pairs", "1"}, {{"WEFT_SHM_RING_BYTES", "4096"}});
  auto results = ranks.wait(30s);
  expect_all_ok(results, "pairs with 4 KiB rings");
  for (const auto& r : results) EXPECT_TRUE(logged(r, "rings of 4 KiB per pair")) << r.output;
}

TEST(ShmP2p, CollectivesWithoutShmPath) {
  Ranks ranks(4, {"colls"});
  auto results = ranks.wait(30s);
  expect_all_ok(results, "alltoall(v), gather, scatter, allgatherv");
  expect_all_shm(results);
}

TEST(ShmP2p, DisabledFallsBackToSockets) {
  Ranks ranks(3, {"pairs", "1"}, {{"WEFT_SHM_DISABLE", "1"}});
  auto results = ranks.wait(30s);
  expect_all_ok(results, "WEFT_SHM_DISABLE=1");
  for (const auto& r : results) {
    EXPECT_FALSE(logged(r, "transport shm")) << r.output;
    EXPECT_FALSE(logged(r, "point-to-point shared memory")) << r.output;
    EXPECT_TRUE(logged(r, ": socket, ")) << "no TCP connection opened:\n" << r.output;
  }
}

// The same exact message as with sockets (rank 1 posts its receive after
// the message arrived, so posting it finds the mismatch: the transport's
// root cause "rank 1: ..." quoted by the receive's Work).
TEST(ShmP2pFailure, MismatchedSizes) {
  const std::string expected =
      "rank 1: recv #0 from peer rank 0 (tag 7, 999 x i32): rank 1: send #0 (999 x i32, 3.9 KiB) "
      "on rank 1 does not match peer rank 0's send #0 (1000 x i32, 3.9 KiB)";
  for (const char* disable : {"0", "1"}) {
    Ranks ranks(2, {"mismatch"}, {{"WEFT_SHM_DISABLE", disable}});
    auto results = ranks.wait(30s);
    for (const auto& r : results)
      EXPECT_EQ(r.code, "Mismatch") << "WEFT_SHM_DISABLE=" << disable << " rank " << r.rank
                                    << ": " << r.msg << "\n" << r.output;
    EXPECT_EQ(results[1].msg, expected) << "WEFT_SHM_DISABLE=" << disable;
    EXPECT_EQ(logged(results[1], "transport shm"), std::string(disable) == "0");
  }
}

TEST(ShmP2pFailure, KilledPeerMidTransferIsPeerLostAndLeavesNothing) {
  const int n = 3, victim = 1;
  Ranks ranks(n, {"ring", std::to_string(8 << 20)});  // 8 MiB: many ring refills each
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) pids.push_back(ranks.proc(r).pid());
  ASSERT_TRUE(ranks.wait_for_output(0, "ITER 2", 20s)) << "no transfer completed";
  // Every rank has mapped both segments: their names are gone already.
  const auto named = segments_of(pids);
  EXPECT_TRUE(named.empty()) << named.front();
  const long long killed_at = now_ms();
  ranks.proc(victim).kill(SIGKILL);
  auto results = ranks.wait(20s, {victim});
  expect_peer_lost(results, victim, killed_at, {"peer rank 1"});
  // The rank that saw the exit itself names the process.
  EXPECT_TRUE(std::regex_search(results[0].msg + results[2].msg,
                                std::regex("peer rank 1 \\(pid [0-9]+\\) exited during")))
      << results[0].msg << "\n" << results[2].msg;
  EXPECT_TRUE(segments_of(pids).empty());
}

// A receive fails (its 2 ms timeout) while its message streams in, and its
// owner frees the buffer as soon as the error reaches it, as a stack
// unwinding past the buffer would: no byte may land there after. Over
// shared memory the buffer is unmapped (a late copy kills rank 0); over
// sockets it is overwritten and checked (the kernel's copy into an unmapped
// buffer would fail quietly).
TEST(ShmP2pFailure, BufferOfAFailedReceiveIsNeverWrittenAfter) {
  const int rounds = 12;
  for (const auto& [disable, how] : {std::pair{"0", "unmap"}, std::pair{"1", "overwrite"}}) {
    Ranks ranks(2, {"freed", std::to_string(rounds), std::to_string(64 << 20), how},
                {{"WEFT_SHM_DISABLE", disable}});
    auto results = ranks.wait(60s);
    expect_all_ok(results, str("WEFT_SHM_DISABLE=", disable));
    // Most receives must have failed mid-transfer, or nothing was tested.
    std::smatch m;
    const bool counted =
        std::regex_search(results[0].msg, m, std::regex("([0-9]+) of [0-9]+ receives timed out"));
    EXPECT_TRUE(counted) << results[0].msg;
    if (counted) {
      EXPECT_GE(std::stoi(m[1]), rounds / 2) << "WEFT_SHM_DISABLE=" << disable << ": " << results[0].msg;
    }
  }
}

TEST(ShmP2pFailure, PeerLeavingWhileExpectedIsPeerLost) {
  Ranks ranks(2, {"leave"});
  auto results = ranks.wait(30s);
  EXPECT_EQ(results[1].code, "OK") << results[1].output;
  EXPECT_EQ(results[0].code, "PeerLost") << results[0].msg << "\n" << results[0].output;
  EXPECT_NE(results[0].msg.find("peer rank 1 destroyed its communicator while rank 0 still "
                                "expected data from it"),
            std::string::npos)
      << results[0].msg;
}

}  // namespace
}  // namespace weft::test
