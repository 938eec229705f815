// The multi-host GPU path with host memory standing in for the GPUs: real
// processes, real sockets between fake hosts (WEFT_HOST_ID), the staged
// pipeline with its proxy thread, and the hierarchical composition — every
// collective checked exactly against an independent reference.
#include <gtest/gtest.h>

#include "rank_group.h"
#include "staging/host_layout.h"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

TEST(HostLayout, GroupsRanksByHostInOrderOfTheirLowestRank) {
  auto l = staging::HostLayout::from_host_ids({"b", "a", "b", "a"});
  EXPECT_EQ(l.hosts(), 2);
  EXPECT_EQ(l.host_of, (std::vector<int>{0, 1, 0, 1}));
  EXPECT_EQ(l.local_of, (std::vector<int>{0, 0, 1, 1}));
  EXPECT_EQ(l.rank_of(1, 1), 3);
  EXPECT_EQ(l.uniform_local_size(), 2);
  EXPECT_EQ(l.describe(), "2 hosts x 2 ranks");
}

TEST(HostLayout, UnevenHostsHaveNoUniformLocalSize) {
  auto l = staging::HostLayout::from_host_ids({"a", "a", "b"});
  EXPECT_EQ(l.uniform_local_size(), 0);
  EXPECT_EQ(l.describe(), "2 hosts (2, 1 ranks)");
}

// Small chunks and few slots, so every size above a few KiB is pipelined
// and reuses its slots; the split threshold low enough that allreduce runs
// both of its hierarchical forms.
Env staging_env(const std::string& multihost = "auto") {
  return {{"WEFT_STAGE_CHUNK_BYTES", "4096"},
          {"WEFT_STAGE_SLOTS", "3"},
          {"WEFT_HIER_SPLIT_MIN_BYTES", "8192"},
          {"WEFT_MULTIHOST", multihost},
          {"WEFT_TIMEOUT_S", "30"}};
}

std::function<Env(int)> hosts(std::vector<std::string> ids) {
  return [ids](int r) { return Env{{"WEFT_HOST_ID", ids[static_cast<size_t>(r)]}}; };
}

void check(const std::string& tag, std::vector<std::string> ids, const std::string& multihost) {
  RankGroup g("staging_worker", tag, static_cast<int>(ids.size()), {"check"}, staging_env(multihost),
              hosts(ids));
  expect_all_ok(g.wait(240s), tag);
}

TEST(StagedCollectives, FlatAcrossTwoHostsOfOneRank) { check("flat2", {"a", "b"}, "auto"); }

TEST(StagedCollectives, FlatAcrossUnevenHosts) { check("flat3", {"a", "a", "b"}, "auto"); }

TEST(StagedCollectives, HierarchicalTwoHostsOfTwo) { check("hier22", {"a", "a", "b", "b"}, "auto"); }

// Ranks of a host are not contiguous: the permuting copies of allgather and
// reduce_scatter and the rank maps of reduce/broadcast must follow.
TEST(StagedCollectives, HierarchicalInterleavedHosts) {
  check("hier_il", {"a", "b", "a", "b"}, "auto");
}

// The layouts of the 8-GPU machine: 2 hosts x 4 and 4 hosts x 2.
TEST(StagedCollectives, HierarchicalTwoHostsOfFour) {
  check("hier24", {"a", "a", "a", "a", "b", "b", "b", "b"}, "auto");
}

TEST(StagedCollectives, HierarchicalFourHostsOfTwo) {
  check("hier42", {"a", "a", "b", "b", "c", "c", "d", "d"}, "auto");
}

TEST(StagedCollectives, FlatForcedOnTwoHostsOfTwo) { check("forced", {"a", "a", "b", "b"}, "flat"); }

// A rank dies while the others are inside a hierarchical allreduce: every
// survivor gets an error naming the lost peer instead of hanging.
TEST(StagedCollectives, KilledRankStopsEveryOtherRank) {
  RankGroup g("staging_worker", "kill", 4, {"kill", "1"}, staging_env(), hosts({"a", "a", "b", "b"}));
  auto results = g.wait(120s, {1});
  auto st = g.proc(1).wait_for(10s);
  ASSERT_TRUE(st && st->exited() && st->code == 9)
      << "rank 1 (the victim): " << (st ? "exit " + std::to_string(st->code) + ", signal " + std::to_string(st->signal)
             : std::string("still running"))
      << "\n" << g.out(1);
  for (int r : {0, 2, 3}) {
    const auto& res = results[static_cast<size_t>(r)];
    EXPECT_EQ(res.code, "PeerLost") << "rank " << r << " (exit " << res.status.code << ", signal "
                                    << res.status.signal << "): " << res.msg << "\n" << res.output;
    EXPECT_NE(res.msg.find("peer rank"), std::string::npos) << res.msg;
  }
}

}  // namespace
