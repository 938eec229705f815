// The result schema shared by weft-perf and the comparators.
#include <gtest/gtest.h>

#include "result.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

TEST(PerfResult, BusBandwidthFactorsAreNcclTests) {
  EXPECT_DOUBLE_EQ(busbw_factor(Collective::allreduce, 2), 1.0);
  EXPECT_DOUBLE_EQ(busbw_factor(Collective::allreduce, 4), 1.5);
  EXPECT_DOUBLE_EQ(busbw_factor(Collective::allgather, 4), 0.75);
  EXPECT_DOUBLE_EQ(busbw_factor(Collective::reduce_scatter, 8), 0.875);
  EXPECT_DOUBLE_EQ(busbw_factor(Collective::broadcast, 8), 1.0);
  EXPECT_DOUBLE_EQ(busbw_factor(Collective::allreduce, 1), 0.0);
}

TEST(PerfResult, RowBandwidthFromBytesAndTime) {
  Row row;
  row.bytes = 1 << 20;
  row.time_us = 1000;  // 1 MiB in 1 ms
  row.set_bandwidth(Collective::allreduce, 4);
  EXPECT_DOUBLE_EQ(row.algbw_gbs, 1048576.0 / 1e6);
  EXPECT_DOUBLE_EQ(row.busbw_gbs, 1048576.0 / 1e6 * 1.5);
}

TEST(PerfResult, JsonRoundTrip) {
  Result r;
  r.library = "gloo";
  r.collective = "allgather";
  r.dtype = "f32";
  r.op = "none";
  r.nranks = 3;
  Row a{3072, 256, 12.5, 0.25, 0.17, 0, false, "ring"};
  Row b{3072, 256, 11.0, 0.28, 0.19, 2, true, ""};
  r.rows = {a, b};
  Result back = result_from_json(nlohmann::json::parse(to_json(r).dump()));
  EXPECT_EQ(back.library, "gloo");
  EXPECT_EQ(back.collective, "allgather");
  EXPECT_EQ(back.dtype, "f32");
  EXPECT_EQ(back.op, "none");
  EXPECT_EQ(back.nranks, 3);
  ASSERT_EQ(back.rows.size(), 2u);
  EXPECT_EQ(back.rows[0].bytes, 3072u);
  EXPECT_EQ(back.rows[0].count, 256u);
  EXPECT_DOUBLE_EQ(back.rows[0].time_us, 12.5);
  EXPECT_EQ(back.rows[0].algo, "ring");
  EXPECT_FALSE(back.rows[0].in_place);
  EXPECT_TRUE(back.rows[1].in_place);
  EXPECT_EQ(back.rows[1].wrong, 2u);
  EXPECT_EQ(back.rows[1].algo, "");
  EXPECT_FALSE(to_json(r)["rows"][1].contains("algo"));
  EXPECT_EQ(back.total_wrong(), 2u);
  EXPECT_EQ(back.find(3072, true), &back.rows[1]);
  EXPECT_EQ(back.find(4096, true), nullptr);
}

TEST(PerfResult, MissingFieldIsNamed) {
  auto j = nlohmann::json::parse(
      R"({"library":"mpi","collective":"allreduce","dtype":"f32","op":"sum","nranks":2,
          "rows":[{"bytes":4,"count":1,"time_us":1,"algbw_gbs":0,"busbw_gbs":0,"in_place":true}]})");
  try {
    result_from_json(j);
    FAIL() << "expected InvalidArgument";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(e.message(), "perf result JSON: row has no field \"wrong\"");
  }
}

TEST(PerfResult, MistypedFieldIsNamed) {
  auto j = nlohmann::json::parse(
      R"({"library":"mpi","collective":"allreduce","dtype":"f32","op":"sum","nranks":"two",
          "rows":[]})");
  try {
    result_from_json(j);
    FAIL() << "expected InvalidArgument";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(e.message(), "perf result JSON: result field \"nranks\" has the wrong type: \"two\"");
  }
}

TEST(PerfResult, CollectiveNames) {
  EXPECT_EQ(parse_collective("reduce_scatter"), Collective::reduce_scatter);
  EXPECT_EQ(parse_collective("alltoall"), Collective::alltoall);
  EXPECT_EQ(parse_collective("all_reduce"), std::nullopt);
  for (Collective c : kAllCollectives) EXPECT_EQ(parse_collective(to_string(c)), c);
  EXPECT_STREQ(to_string(Collective::broadcast), "broadcast");
}

}  // namespace
}  // namespace weft::perf

namespace weft::perf {
namespace {

TEST(PerfResult, ParseBytesLikeNcclTests) {
  EXPECT_EQ(parse_bytes("4096"), 4096u);
  EXPECT_EQ(parse_bytes("1K"), 1024u);
  EXPECT_EQ(parse_bytes("64M"), 64u << 20);
  EXPECT_EQ(parse_bytes("2g"), 2ull << 30);
  try {
    parse_bytes("12Q");
    FAIL() << "expected InvalidArgument";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(e.message(), "bad size \"12Q\" (use a number with K, M or G)");
  }
  EXPECT_THROW(parse_bytes("M"), Error);
}

}  // namespace
}  // namespace weft::perf
