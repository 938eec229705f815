// Shared-memory collectives between real processes: this test hosts the
// store, spawns shm_worker once per rank (WEFT_HOST_ID per rank fakes
// several hosts for the hierarchical algorithm) and reads each rank's RESULT
// line and log.
#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <regex>
#include <thread>

#include "rank_group.h"
#include "subprocess.h"
#include "weft/store.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

// Ranks log their shared-memory setup and the planner's choices.
class Ranks : public RankGroup {
 public:
  Ranks(int n, std::vector<std::string> args, Env env = {}, std::function<Env(int)> env_of = {})
      : RankGroup("shm_worker", "shm", n, std::move(args), with_logs(std::move(env)),
                  std::move(env_of)) {}

 private:
  static Env with_logs(Env env) {
    env.push_back({"WEFT_DEBUG", "INFO"});
    env.push_back({"WEFT_DEBUG_SUBSYS", "coll,bootstrap"});
    return env;
  }
};

// Rank r runs on fake host host_of(r).
std::function<Env(int)> hosts(std::function<std::string(int)> host_of) {
  return [host_of](int r) { return Env{{"WEFT_HOST_ID", host_of(r)}}; };
}

void expect_log(const Result& r, const std::string& line) {
  EXPECT_NE(r.output.find(line), std::string::npos)
      << "rank " << r.rank << " should log '" << line << "':\n" << r.output;
}

// Names in /dev/shm of segments created by one of `pids` (weft names them
// /weft-<creator pid>-...).
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

// --- correctness on one host ---------------------------------------------------------------
class OneHost : public ::testing::TestWithParam<int> {};

TEST_P(OneHost, EveryShmCollectiveDtypeOp) {
  const int n = GetParam();
  Ranks ranks(n, {"colls", "shm", "0", "1", "7", "1031", "20011"});
  auto results = ranks.wait(120s);
  expect_all_ok(results, "matrix n=" + std::to_string(n));
  expect_log(results[0], "allreduce uses shm (all " + std::to_string(n) + " ranks on one host");
  expect_log(results[0], "reduce_scatter uses shm");
  expect_log(results[0], "shared memory with ranks 0,1");
}

INSTANTIATE_TEST_SUITE_P(World, OneHost, ::testing::Values(2, 3, 4));

// More ranks than reduce_many fuses in one pass (8): in-place outputs must
// not alias a later input.
TEST(OneHostMany, TenRanksReduceInPlace) {
  Ranks ranks(10, {"colls", "allreduce,reduce_scatter,reduce", "1031"});
  expect_all_ok(ranks.wait(120s), "10 ranks");
}

class OneHostLarge : public ::testing::TestWithParam<int> {};
TEST_P(OneHostLarge, SeveralMiBOddSizes) {
  const int n = GetParam();
  Ranks ranks(n, {"large"});
  expect_all_ok(ranks.wait(120s), "large n=" + std::to_string(n));
}
INSTANTIATE_TEST_SUITE_P(World, OneHostLarge, ::testing::Values(3, 4));

// Sizes around the boxes' limits: 48 bytes (the first line: 6 elements of
// 8 bytes, 12 of 4, 48 of 1) and 304 (five lines: 38 of 8, 76 of 4, 152
// of 2, 304 of 1) go through the boxes, one element more through a round,
// back to back with 1031-element operations, every dtype and op, in and out
// of place.
class OneHostBox : public ::testing::TestWithParam<int> {};
TEST_P(OneHostBox, EveryDtypeOpAtBoxSizesBesideRounds) {
  const int n = GetParam();
  Ranks ranks(n, {"colls", "shm", "1", "6", "1031", "7", "12", "13", "48", "49", "38", "39",
                  "76", "77", "152", "153", "304", "305"});
  auto results = ranks.wait(180s);
  expect_all_ok(results, "box sizes n=" + std::to_string(n));
  for (const auto& r : results) {
    expect_log(r, "allreduce: a box per rank (");
    expect_log(r, "broadcast: a box per rank (");
    expect_log(r, "allgather: a box per rank (");
  }
}
INSTANTIATE_TEST_SUITE_P(World, OneHostBox, ::testing::Values(2, 3, 4));

// A broadcast's root and a reduce's contributors return once they have
// published their box; the next use of that box waits for the readers.
class OneHostRootedBoxes : public ::testing::TestWithParam<int> {};
TEST_P(OneHostRootedBoxes, WritersRunningAheadNeverOverwriteUnreadBoxes) {
  const int n = GetParam();
  Ranks ranks(n, {"rooted", "400"});
  expect_all_ok(ranks.wait(120s), "rooted boxes n=" + std::to_string(n));
}
INSTANTIATE_TEST_SUITE_P(World, OneHostRootedBoxes, ::testing::Values(2, 3, 4));

TEST(OneHostBarrier, NobodyLeavesBeforeTheLastArrives) {
  Ranks ranks(3, {"barriers", "6"});
  auto results = ranks.wait(60s);
  expect_all_ok(results, "barriers");
  expect_log(results[0], "barrier uses shm");
}

// The collectives without a shared-memory path still work beside it.
TEST(OneHostOthers, EveryOtherCollectiveBesideShm) {
  Ranks ranks(3, {"matrix", "0", "5", "1031"});
  expect_all_ok(ranks.wait(120s), "matrix n=3");
}

// Small slot halves: every size goes through many pipeline rounds, ending
// in partial ones.
TEST(OneHostSmallChunks, ManyRounds) {
  Ranks ranks(3, {"colls", "shm", "3001"}, {{"WEFT_SHM_CHUNK_BYTES", "4096"}});
  expect_all_ok(ranks.wait(120s), "small chunks");
}

// Batches of 64 small collectives queued back to back, ranks late in turn
// (shm_worker small): exact results while fast ranks fill the next round
// as slow ones still read the last.
class OneHostSmallBatches : public ::testing::TestWithParam<int> {};
TEST_P(OneHostSmallBatches, ExactWhileRanksRunAhead) {
  expect_all_ok(Ranks(GetParam(), {"small", "30"}).wait(120s),
                "small batches n=" + std::to_string(GetParam()));
}
INSTANTIATE_TEST_SUITE_P(World, OneHostSmallBatches, ::testing::Values(2, 3));

TEST(OneHostDisabled, FallsBackToSockets) {
  Ranks ranks(3, {"colls", "shm", "1", "1031"}, {{"WEFT_SHM_DISABLE", "1"}});
  auto results = ranks.wait(120s);
  expect_all_ok(results, "WEFT_SHM_DISABLE=1");
  expect_log(results[0], "allreduce uses recursive_doubling (WEFT_SHM_DISABLE=1)");
  EXPECT_EQ(results[0].output.find("uses shm"), std::string::npos) << results[0].output;
  EXPECT_EQ(results[0].output.find("shared memory with"), std::string::npos);
}

// One rank's WEFT_SHM_DISABLE=1 turns shared memory off for all of them
// (the address book carries it), instead of leaving them to disagree.
TEST(OneHostDisabled, OnOneRankOnlyIsOffEverywhere) {
  Ranks ranks(3, {"colls", "allreduce,broadcast", "1031"}, {}, [](int r) {
    return r == 1 ? Env{{"WEFT_SHM_DISABLE", "1"}} : Env{};
  });
  auto results = ranks.wait(120s);
  expect_all_ok(results, "WEFT_SHM_DISABLE=1 on rank 1");
  expect_log(results[0], "allreduce uses recursive_doubling (WEFT_SHM_DISABLE=1 on rank 1)");
  expect_log(results[2], "broadcast uses tree (WEFT_SHM_DISABLE=1 on rank 1)");
  for (const auto& r : results)
    EXPECT_EQ(r.output.find("uses shm"), std::string::npos) << r.output;
}

TEST(OneHostForced, WeftAlgoRingAvoidsShm) {
  Ranks ranks(2, {"colls", "allreduce,allgather", "1031"}, {{"WEFT_ALGO", "ring"}});
  auto results = ranks.wait(120s);
  expect_all_ok(results, "WEFT_ALGO=ring");
  expect_log(results[0], "allreduce uses ring (WEFT_ALGO)");
  EXPECT_EQ(results[0].output.find("uses shm"), std::string::npos) << results[0].output;
}

// --- single copy (cross-memory attach) -------------------------------------------------------
// Tests of the single copy itself take it wherever the probe shows it works,
// without the calibration that may turn it off on a machine where it is the
// slower path (shm/calibration.h; tested below).
const std::pair<std::string, std::string> kUncalibrated{"WEFT_SHM_CMA_CALIBRATE", "0"};

// Every size from 1 byte on reads the peers' buffers directly (one-shot
// allreduces aside): odd shares, every dtype and op, in and out of place.
class SingleCopy : public ::testing::TestWithParam<int> {};
TEST_P(SingleCopy, EveryShmCollectiveDtypeOp) {
  const int n = GetParam();
  Ranks ranks(n, {"colls", "shm", "0", "1", "7", "1031", "20011"},
              {{"WEFT_SHM_CMA_MIN_BYTES", "1"}, kUncalibrated});
  auto results = ranks.wait(120s);
  expect_all_ok(results, "single copy n=" + std::to_string(n));
  for (const auto& r : results)
    expect_log(r, "cross-memory attach on for operations that read >= 1 bytes from each peer");
  for (const char* kind : {"allreduce", "reduce", "broadcast", "allgather", "reduce_scatter"})
    expect_log(results[0], std::string(kind) + ": single copy through cross-memory attach");
}
INSTANTIATE_TEST_SUITE_P(World, SingleCopy, ::testing::Values(2, 3));

// The default threshold: these sizes take the single copy (logged), the
// ~2.5 MiB ones included.
TEST(SingleCopyLarge, DefaultThreshold) {
  Ranks ranks(2, {"large"}, {kUncalibrated});
  auto results = ranks.wait(120s);
  expect_all_ok(results, "large, single copy");
  // Two ranks have a CPU each wherever this runs: allgather and broadcast
  // take the single copy from 16 KiB per peer.
  expect_log(results[0], "cross-memory attach on for operations that read >= 131072 bytes from "
                         "each peer (allgather and broadcast: >= 16384)");
  expect_log(results[1], "allreduce: single copy through cross-memory attach");
}

// Above 8 MiB what is read goes through a bounce buffer and on with
// streaming stores; the root of a broadcast writes its part into the others.
TEST(SingleCopyLarge, StreamedAboveEightMiB) {
  Ranks ranks(3, {"large", "allreduce,allgather,broadcast", std::to_string((9 << 20) + 4096 + 3)},
              {kUncalibrated});
  auto results = ranks.wait(120s);
  expect_all_ok(results, "~9 MiB, single copy");
  expect_log(results[2], "broadcast: single copy through cross-memory attach");
}

// Ranks whose buffers sit at different offsets modulo 64 from each other's
// (rank r's 8 r bytes further): what is read from a peer is staged at the
// peer's offset and copied on (core/copy.h); every element still lands.
// Below and above the streaming threshold, and on the two-copy path.
TEST(SingleCopyLarge, BuffersAtDifferentOffsetsOnEachRank) {
  for (const char* bytes : {"700001", "9441283"}) {
    Ranks ranks(3, {"large", "allreduce,reduce,reduce_scatter,allgather,broadcast", bytes, "8"},
                {{"WEFT_SHM_CMA_MIN_BYTES", "1"}, {"WEFT_SHM_CMA_COPY_MIN_BYTES", "1"}, kUncalibrated});
    auto results = ranks.wait(120s);
    expect_all_ok(results, std::string("shifted buffers, single copy, ") + bytes + " bytes");
    for (const char* kind : {"allreduce", "allgather", "broadcast", "reduce_scatter"})
      expect_log(results[0], std::string(kind) + ": single copy through cross-memory attach");
  }
  Ranks ranks(3, {"large", "allreduce,reduce_scatter,allgather,broadcast", "700001", "8"},
              {{"WEFT_SHM_CMA", "0"}});
  expect_all_ok(ranks.wait(120s), "shifted buffers, two copies");
}

// WEFT_SHM_CMA=0 anywhere turns it off everywhere; the two-copy path then
// carries the large sizes.
TEST(SingleCopyOff, OnOneRankIsOffEverywhere) {
  Ranks ranks(3, {"large"}, {}, [](int r) { return r == 1 ? Env{{"WEFT_SHM_CMA", "0"}} : Env{}; });
  auto results = ranks.wait(120s);
  expect_all_ok(results, "WEFT_SHM_CMA=0 on rank 1");
  for (const auto& r : results) {
    expect_log(r, "cross-memory attach off: WEFT_SHM_CMA=0 on rank 1");
    EXPECT_EQ(r.output.find("single copy"), std::string::npos) << r.output;
  }
}

// Ranks asking for different thresholds agree on the largest (both of them).
TEST(SingleCopyOff, ThresholdsAgree) {
  Ranks ranks(3, {"large", "allreduce,allgather"}, {}, [](int r) {
    const char* bytes = r == 2 ? "4194304" : "1";
    return Env{{"WEFT_SHM_CMA_MIN_BYTES", bytes}, {"WEFT_SHM_CMA_COPY_MIN_BYTES", bytes}, kUncalibrated};
  });
  auto results = ranks.wait(120s);
  expect_all_ok(results, "thresholds 1, 1, 4 MiB");
  for (const auto& r : results) {
    expect_log(r, "cross-memory attach on for operations that read >= 4194304 bytes from each "
                  "peer (allgather and broadcast: >= 4194304)");
    EXPECT_EQ(r.output.find("single copy"), std::string::npos) << r.output;
  }
}

// --- calibration (shm/calibration.h) ----------------------------------------------------------
// The line a rank logs about cross-memory attach, from "cross-memory attach"
// to its end, without how long this rank's timing took: the same on every
// rank of a group.
std::string cma_line(const Result& r) {
  const size_t at = r.output.find("cross-memory attach ");
  if (at == std::string::npos) return "";
  std::string line = r.output.substr(at, r.output.find('\n', at) - at);
  const size_t timed = line.find(" (timed in ");
  if (timed != std::string::npos) line.erase(timed, line.find(" us)", timed) + 4 - timed);
  return line;
}

// By default the group times both copies at init; every rank makes the same
// choice and logs the figures, and the collectives take the path it names
// (and are right either way).
TEST(Calibration, EveryRankMakesTheSameChoiceAndSaysWhy) {
  Ranks ranks(3, {"large", "allreduce,allgather,broadcast"});
  auto results = ranks.wait(120s);
  expect_all_ok(results, "calibrated");
  const std::string line = cma_line(results[0]);
  EXPECT_NE(line.find("a kernel copy from a peer took "), std::string::npos) << line;
  EXPECT_NE(line.find("a copy through the segment (rank "), std::string::npos) << line;
  EXPECT_NE(line.find(" 0.875 n/(n-1) = 1.31"), std::string::npos) << line;
  const bool on = line.rfind("cross-memory attach on", 0) == 0;
  for (const auto& r : results) {
    EXPECT_EQ(cma_line(r), line) << "rank " << r.rank;
    EXPECT_EQ(r.output.find("single copy through cross-memory attach") != std::string::npos, on)
        << r.output;
  }
}

// WEFT_SHM_CMA_CALIBRATE=0 on one rank: no timing anywhere, the single copy
// wherever the probe shows it works.
TEST(Calibration, OffOnOneRankMeansNoTimingAnywhere) {
  Ranks ranks(2, {"large", "allreduce"}, {}, [](int r) { return r == 1 ? Env{kUncalibrated} : Env{}; });
  auto results = ranks.wait(120s);
  expect_all_ok(results, "WEFT_SHM_CMA_CALIBRATE=0 on rank 1");
  for (const auto& r : results) {
    expect_log(r, "not calibrated: WEFT_SHM_CMA_CALIBRATE=0 on rank 1");
    expect_log(r, "allreduce: single copy through cross-memory attach");
  }
}

// A real probe failure: rank 1 is not dumpable and nobody has
// CAP_SYS_PTRACE, so the others' reads of its memory are refused (EPERM).
// Every rank learns it from the segment and all use the two copies.
TEST(SingleCopyOff, RefusedProbeFallsBackEverywhere) {
  Ranks ranks(3, {"large", "allreduce,broadcast"}, {{"SHM_WORKER_DROP_PTRACE", "1"}}, [](int r) {
    return r == 1 ? Env{{"SHM_WORKER_NOT_DUMPABLE", "1"}} : Env{};
  });
  auto results = ranks.wait(120s);
  expect_all_ok(results, "rank 1 unreadable");
  for (const auto& r : results) {
    expect_log(r, "cross-memory attach off: rank ");
    expect_log(r, "could not read rank 1's memory");
    expect_log(r, "Operation not permitted");
    EXPECT_EQ(r.output.find("single copy"), std::string::npos) << r.output;
  }
}

// --- several hosts (WEFT_HOST_ID) -----------------------------------------------------------
TEST(Hierarchical, TwoHostsOfTwo) {
  // 70001 elements: for 4- and 8-byte types the leaders use the ring (above
  // 256 KiB), below it recursive doubling.
  Ranks ranks(4, {"colls", "allreduce,reduce,broadcast", "0", "1", "7", "1030", "70001"}, {},
              hosts([](int r) { return r < 2 ? "hostA" : "hostB"; }));
  auto results = ranks.wait(120s);
  expect_all_ok(results, "2 hosts x 2");
  expect_log(results[0], "allreduce uses hierarchical (4 ranks on 2 hosts");
  expect_log(results[3], "reduce uses hierarchical");
  expect_log(results[3], "broadcast uses hierarchical");
  EXPECT_EQ(results[0].output.find("allgather uses shm"), std::string::npos);
}

TEST(Hierarchical, UnevenHostsLarge) {
  // Hosts of 2, 1 and 2 ranks, interleaved: leaders are ranks 0, 1, 2.
  Ranks ranks(5, {"large", "allreduce,reduce,broadcast"}, {},
              hosts([](int r) { return std::string("host") + "ABCAC"[r]; }));
  auto results = ranks.wait(120s);
  expect_all_ok(results, "hosts A{0,3} B{1} C{2,4}");
  expect_log(results[0], "allreduce uses hierarchical (5 ranks on 3 hosts");
}

TEST(Hierarchical, EveryRootOnUnevenHosts) {
  // Counts 3..7 put the root on ranks 4, 0, 1, 2, 3: leaders, a lone rank and
  // ranks that share a host with a leader.
  Ranks ranks(5, {"colls", "reduce,broadcast", "3", "4", "5", "6", "7"}, {},
              hosts([](int r) { return std::string("host") + "ABCAC"[r]; }));
  expect_all_ok(ranks.wait(120s), "roots on hosts A{0,3} B{1} C{2,4}");
}

// --- failures -------------------------------------------------------------------------------
// A rank killed in the middle of 16 MiB operations: through the segment
// (WEFT_SHM_CMA=0) and while peers read its memory directly (the others).
struct Kill {
  std::string kind, cma;
};
class ShmFailure : public ::testing::TestWithParam<Kill> {};
TEST_P(ShmFailure, KilledRankIsPeerLostAndLeavesNoSegment) {
  const int n = 3, victim = 1;
  const Kill& k = GetParam();
  Ranks ranks(n, {"loop", k.kind}, {{"WEFT_SHM_CMA", k.cma}, kUncalibrated});
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) pids.push_back(ranks.proc(r).pid());
  ASSERT_TRUE(ranks.wait_for_output(0, "ITER 1", 60s)) << "no allreduce completed";
  // Every rank has mapped the segment: its name is already gone.
  const auto named = segments_of(pids);
  EXPECT_TRUE(named.empty()) << named.front();
  const long long killed_at = now_ms();
  ranks.proc(victim).kill(SIGKILL);
  auto results = ranks.wait(30s, {victim});
  expect_peer_lost(results, victim, killed_at, {"peer rank 1", k.kind + " #"});
  EXPECT_TRUE(segments_of(pids).empty());
}
INSTANTIATE_TEST_SUITE_P(Kinds, ShmFailure,
                         ::testing::Values(Kill{"allreduce", "0"}, Kill{"allreduce", "1"},
                                           Kill{"allgather", "1"}, Kill{"broadcast", "1"}),
                         [](const auto& info) { return info.param.kind + "_cma" + info.param.cma; });

// Rank 1 of 3 is killed once the survivors have run 10 batches of the
// worker's `loop` mode: they must get PeerLost naming it (and `what`), and
// no segment may be left behind.
void expect_kill_during_loop(const std::string& mode, const std::vector<std::string>& what) {
  const int n = 3, victim = 1;
  Ranks ranks(n, {"loop", mode});
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) pids.push_back(ranks.proc(r).pid());
  ASSERT_TRUE(ranks.wait_for_output(0, "ITER 10", 60s)) << "no batch completed";
  const long long killed_at = now_ms();
  ranks.proc(victim).kill(SIGKILL);
  auto results = ranks.wait(30s, {victim});
  expect_peer_lost(results, victim, killed_at, what);
  EXPECT_TRUE(segments_of(pids).empty());
}

// Small operations queued in batches (one phase per round, slot halves
// reused every other round): killing a rank there is PeerLost naming it,
// like the large operations above.
TEST(ShmFailures, KilledRankDuringSmallBatchesIsPeerLost) {
  expect_kill_during_loop("small", {"peer rank 1", "allreduce #"});
}

TEST(ShmFailures, MismatchedCountsOpsAndKinds) {
  for (std::string what : {"count", "op", "kind", "barrier"}) {
    Ranks ranks(3, {"mismatch", what});
    auto results = ranks.wait(60s);
    for (const auto& r : results)
      EXPECT_EQ(r.code, "Mismatch") << what << ": " << r.msg << "\n" << r.output;
    const std::string& m = results[1].msg;
    if (what == "count") {
      EXPECT_NE(m.find("(999 x i32 sum"), std::string::npos) << m;
      EXPECT_NE(m.find("(1000 x i32 sum"), std::string::npos) << m;
    } else if (what == "op") {
      EXPECT_NE(m.find("i32 max"), std::string::npos) << m;
      EXPECT_NE(m.find("i32 sum"), std::string::npos) << m;
    } else {
      EXPECT_NE(m.find(what == "kind" ? "allgather #0" : "barrier #0"), std::string::npos) << m;
      EXPECT_NE(m.find("allreduce #0"), std::string::npos) << m;
    }
  }
}

// Box allreduces whose ranks disagree: about the count within a box
// (descriptors compared after the exchange; counts above 255 too, which
// the packed descriptor keeps apart), or so that rank 1 runs a round where
// the others exchange boxes (each side's wait sees the other sequence move
// and reports it).
TEST(ShmFailures, MismatchedBoxAllreduce) {
  struct Case {
    std::string what, mine, theirs;
  };
  for (const Case& c : {Case{"boxcount", "(2 x i32 sum, 8 B)", "(3 x i32 sum, 12 B)"},
                        Case{"boxbytes", "(300 x i8 sum, 300 B)", "(301 x i8 sum, 301 B)"},
                        Case{"boxsize", "(2 x i32 sum, 8 B)", "(77 x i32 sum, 308 B)"},
                        Case{"boxdtype", "(8 x f32 sum, 32 B)", "(8 x f64 sum, 64 B)"}}) {
    Ranks ranks(3, {"mismatch", c.what});
    auto results = ranks.wait(60s);
    for (const auto& r : results) {
      EXPECT_EQ(r.code, "Mismatch") << c.what << ": " << r.msg << "\n" << r.output;
      EXPECT_NE(r.msg.find("allreduce #0 " + c.mine), std::string::npos) << c.what << ": " << r.msg;
      EXPECT_NE(r.msg.find("allreduce #0 " + c.theirs), std::string::npos) << c.what << ": " << r.msg;
      EXPECT_NE(r.msg.find("(seen in shared memory)"), std::string::npos) << r.msg;
    }
    // Rank 1 finds out itself (it compares with rank 0 first), unless a
    // peer's notice came first: then it carries the peer's own words.
    const std::string own = "allreduce #0 " + c.theirs + " on rank 1 does not match peer rank 0's allreduce #0 " + c.mine + " (seen in shared memory)";
    const std::string relayed = " does not match peer rank 1's allreduce #0 " + c.theirs + " (seen in shared memory)";
    EXPECT_TRUE(results[1].msg.find(own) != std::string::npos ||
                results[1].msg.find(relayed) != std::string::npos)
        << c.what << ": " << results[1].msg;
  }
}

// A rank killed while the others spin on its box: PeerLost naming it.
TEST(ShmFailures, KilledRankDuringBoxOpsIsPeerLost) { expect_kill_during_loop("box", {"peer rank 1", " #"}); }

// Rank 1's allgather takes the single copy, the others' allreduce the
// segment: they still meet at arrive() and compare descriptors.
TEST(ShmFailures, MismatchedKindAcrossSingleCopy) {
  Ranks ranks(3, {"mismatch", "kind"}, {{"WEFT_SHM_CMA_MIN_BYTES", "1"}, kUncalibrated});
  auto results = ranks.wait(60s);
  for (const auto& r : results) EXPECT_EQ(r.code, "Mismatch") << r.msg << "\n" << r.output;
  EXPECT_NE(results[1].msg.find("allgather #0"), std::string::npos) << results[1].msg;
  expect_log(results[1], "allgather: single copy through cross-memory attach");
}

TEST(ShmFailures, StalledRankTimesOutNamingIt) {
  Ranks ranks(3, {"stall", "2"});
  auto results = ranks.wait(60s);
  for (int r : {0, 1}) {
    EXPECT_EQ(results[r].code, "Timeout") << results[r].msg << "\n" << results[r].output;
    EXPECT_NE(results[r].msg.find("allreduce #0"), std::string::npos) << results[r].msg;
  }
  // At least the first to time out names the missing rank itself.
  EXPECT_TRUE(results[0].msg.find("peer rank 2") != std::string::npos ||
              results[1].msg.find("peer rank 2") != std::string::npos)
      << results[0].msg << "\n" << results[1].msg;
}

}  // namespace
}  // namespace weft::test
