// The side-by-side table, the plot and the limits, on synthetic results.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "machine_limits.h"
#include "plot.h"
#include "side_by_side.h"
#include "subprocess.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

namespace fs = std::filesystem;

// busbw given directly: 2 ranks allreduce, so algbw == busbw.
Result make(const std::string& lib, std::vector<std::pair<std::uint64_t, double>> rows,
            bool in_place = false) {
  Result r;
  r.library = lib;
  r.collective = "allreduce";
  r.dtype = "f32";
  r.op = "sum";
  r.nranks = 2;
  for (auto [bytes, busbw] : rows) {
    Row row;
    row.bytes = bytes;
    row.count = bytes / 4;
    row.time_us = bytes / (busbw * 1e3);
    row.in_place = in_place;
    row.set_bandwidth(Collective::allreduce, 2);
    r.rows.push_back(row);
  }
  return r;
}

TEST(SideBySide, RatiosAreWeftOverEachOther) {
  auto gloo = make("gloo", {{1024, 0.5}, {1 << 20, 1.25}});
  auto mpi = make("mpi", {{1024, 1.0}, {1 << 20, 5.0}});
  auto weft = make("weft", {{1024, 2.0}, {1 << 20, 10.0}});
  std::ostringstream out;
  print_side_by_side(out, {gloo, mpi, weft});
  const std::string t = out.str();
  EXPECT_NE(t.find("weft/gloo"), std::string::npos) << t;
  EXPECT_NE(t.find("weft/mpi"), std::string::npos) << t;
  // 1 MiB row: weft 10 GB/s against gloo 1.25 (8x) and mpi 5 (2x).
  std::istringstream lines(t);
  std::string line, mib;
  while (std::getline(lines, line)) {
    if (line.find(" 1048576 ") != std::string::npos) mib = line;
  }
  ASSERT_FALSE(mib.empty()) << t;
  EXPECT_NE(mib.find("8.00x"), std::string::npos) << mib;
  EXPECT_NE(mib.find("2.00x"), std::string::npos) << mib;
  EXPECT_NE(mib.find("838.9"), std::string::npos) << mib;  // gloo time: 1 MiB / 1.25 GB/s
}

TEST(SideBySide, WrongLinePerLibrary) {
  auto gloo = make("gloo", {{4096, 1.0}});
  auto weft = make("weft", {{4096, 2.0}});
  weft.rows[0].wrong = 3;
  std::ostringstream out;
  print_side_by_side(out, {weft, gloo});
  EXPECT_NE(out.str().find("\n# wrong: 3 (weft)\n# wrong: 0 (gloo)\n"), std::string::npos)
      << out.str();
}

TEST(SideBySide, FractionOfBoundPerLibrary) {
  auto mpi = make("mpi", {{1 << 20, 5.0}});
  auto weft = make("weft", {{1 << 20, 10.0}});
  std::ostringstream out;
  print_side_by_side(out, {weft, mpi}, false, Bounds{.single = 20.0});
  const std::string t = out.str();
  EXPECT_NE(t.find("# bound: 20.00 GB/s algbw"), std::string::npos) << t;
  EXPECT_NE(t.find("weft/bound"), std::string::npos) << t;
  EXPECT_NE(t.find("mpi/bound"), std::string::npos) << t;
  EXPECT_EQ(t.find("shared"), std::string::npos) << t;
  // 2 ranks allreduce: algbw == busbw; 10/20 and 5/20.
  EXPECT_NE(t.find("        0.50        0.25\n"), std::string::npos) << t;
}

TEST(SideBySide, FractionOfTheSharedBoundToo) {
  auto mpi = make("mpi", {{1 << 20, 5.0}});
  auto weft = make("weft", {{1 << 20, 10.0}});
  std::ostringstream out;
  print_side_by_side(out, {weft, mpi}, false, Bounds{.single = 20.0, .shared = 12.5});
  const std::string t = out.str();
  EXPECT_NE(t.find("# shared bound: 12.50 GB/s algbw"), std::string::npos) << t;
  EXPECT_NE(t.find("weft/shared"), std::string::npos) << t;
  // 10/20, 5/20, then 10/12.5 and 5/12.5.
  EXPECT_NE(t.find("        0.50        0.25        0.80        0.40\n"), std::string::npos) << t;
}

TEST(Bound, FewestBytesEachRankMoves) {
  // Allreduce on 2 ranks: read both halves of its slice (1), write its
  // reduced half (1/2), read the other reduced half (1/2), write it (1/2).
  EXPECT_DOUBLE_EQ(min_traffic_per_byte(Collective::allreduce, 2), 2.5);
  EXPECT_DOUBLE_EQ(min_traffic_per_byte(Collective::allreduce, 4), 11.0 / 4);
  EXPECT_DOUBLE_EQ(min_traffic_per_byte(Collective::reduce, 4), 11.0 / 4);
  EXPECT_DOUBLE_EQ(min_traffic_per_byte(Collective::reduce_scatter, 4), 5.0 / 4);
  EXPECT_DOUBLE_EQ(min_traffic_per_byte(Collective::allgather, 8), 2.0);
  EXPECT_DOUBLE_EQ(min_traffic_per_byte(Collective::broadcast, 8), 2.0);
  // memcpy moving 46 GB/s of traffic (23 GB/s payload): allreduce on 2 ranks
  // is bounded at 46 / 2.5 GB/s of algbw, allgather at the payload rate.
  EXPECT_DOUBLE_EQ(bound_algbw_gbs(Collective::allreduce, 2, 46.0), 18.4);
  EXPECT_DOUBLE_EQ(bound_algbw_gbs(Collective::allgather, 2, 46.0), 23.0);
}

TEST(SideBySide, MarksSubstitutedPlacement) {
  auto gloo = make("gloo", {{4096, 1.0}});
  auto mpi = make("mpi", {{4096, 2.0}}, /*in_place=*/true);  // e.g. MPI_Bcast
  std::ostringstream out;
  print_side_by_side(out, {gloo, mpi});
  EXPECT_NE(out.str().find("2.00*"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("0.50x"), std::string::npos) << out.str();  // gloo / mpi
}

TEST(SideBySide, RefusesDifferentWorldSizes) {
  auto a = make("gloo", {{4096, 1.0}});
  auto b = make("mpi", {{4096, 1.0}});
  b.nranks = 4;
  std::ostringstream out;
  try {
    print_side_by_side(out, {a, b});
    FAIL() << "expected InvalidArgument";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(e.message(),
              "side-by-side table: cannot compare mpi's allreduce on 4 ranks with gloo's "
              "allreduce on 2 ranks");
  }
}

TEST(Plot, WritesPngAndKeepsScript) {
  if (::access("/usr/bin/gnuplot", X_OK) != 0) GTEST_SKIP() << "gnuplot not installed";
  std::string dir = test::make_temp_dir("perf-plot");
  std::string png = dir + "/p.png";
  write_plot(png, {make("gloo", {{1024, 0.1}, {1 << 20, 1.2}}),
                   make("mpi", {{1024, 0.9}, {1 << 20, 5.4}})});
  EXPECT_TRUE(is_png_file(png));
  std::string script = test::read_file(png + ".gp");
  EXPECT_NE(script.find("set logscale"), std::string::npos);
  EXPECT_NE(script.find("title 'mpi'"), std::string::npos);
  EXPECT_NE(script.find("1048576 5.4"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Plot, NotAPng) {
  std::string dir = test::make_temp_dir("perf-plot");
  std::ofstream(dir + "/x.png") << "GIF89a not a png";
  EXPECT_FALSE(is_png_file(dir + "/x.png"));
  EXPECT_FALSE(is_png_file(dir + "/missing.png"));
  fs::remove_all(dir);
}

TEST(Limits, MemoryFiguresFollowTheStatedConvention) {
  auto f = measure_memory_bandwidth(8 << 20, 3);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].name, "memcpy");
  EXPECT_EQ(f[1].name, "a+=b f32");
  for (const auto& x : f) {
    EXPECT_GT(x.payload_gbs, 0.01);
    EXPECT_TRUE(std::isfinite(x.payload_gbs));
    EXPECT_DOUBLE_EQ(x.payload_gbs, x.bytes / x.seconds / 1e9);
  }
  EXPECT_DOUBLE_EQ(f[0].traffic_gbs, 2 * f[0].payload_gbs);
  EXPECT_DOUBLE_EQ(f[1].traffic_gbs, 3 * f[1].payload_gbs);
  std::ostringstream out;
  print_limits(out, f);
  EXPECT_NE(out.str().find("traffic = bytes read + bytes written"), std::string::npos);
}

TEST(Limits, ConcurrentMemcpyIsOneThreadsShare) {
  auto f = measure_concurrent_memcpy(2, 8 << 20, 2);
  EXPECT_EQ(f.name, kMemcpyShared);
  EXPECT_EQ(f.bytes, 8u << 20);
  EXPECT_EQ(f.runs, 2);
  EXPECT_GT(f.payload_gbs, 0.01);
  EXPECT_DOUBLE_EQ(f.payload_gbs, f.bytes / f.seconds / 1e9);
  EXPECT_DOUBLE_EQ(f.traffic_gbs, 2 * f.payload_gbs);
  EXPECT_NE(f.note.find("2 threads at once"), std::string::npos) << f.note;
  std::vector<LimitFigure> all = {f};
  EXPECT_EQ(find_figure(all, kMemcpyShared), &all[0]);
  EXPECT_EQ(find_figure(all, kMemcpy), nullptr);
}

TEST(Limits, TcpLoopbackMovesEveryByte) {
  auto f = measure_tcp_loopback(32 << 20, 1);
  EXPECT_EQ(f.name, "tcp loopback");
  EXPECT_EQ(f.bytes, 32u << 20);
  EXPECT_GT(f.payload_gbs, 0.01);
  EXPECT_DOUBLE_EQ(f.traffic_gbs, f.payload_gbs);
}

}  // namespace
}  // namespace weft::perf
