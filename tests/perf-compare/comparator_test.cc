// The Gloo and Open MPI comparators, run for real: N processes over loopback
// (Gloo) or under mpirun (Open MPI), results checked exactly (-c 1).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "child_process.h"
#include "launcher.h"
#include "plot.h"
#include "side_by_side.h"
#include "subprocess.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

namespace fs = std::filesystem;

bool built(const std::string& name) { return ::access(test::bin(name).c_str(), X_OK) == 0; }

#define REQUIRE_COMPARATOR(name) \
  if (!built(name)) GTEST_SKIP() << name << " not built (libgloo-dev / libopenmpi-dev missing)"

CompareSpec small_spec(int nranks) {
  CompareSpec s;
  s.bin_dir = test::bin_dir();
  s.nranks = nranks;
  s.iters = 3;
  s.warmup = 1;
  s.check = true;
  s.timeout = std::chrono::seconds(90);
  return s;
}

// The sizes a -b/-e/-f sweep must produce.
std::vector<std::uint64_t> sweep(std::uint64_t lo, std::uint64_t hi) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t s = lo; s <= hi; s *= 2) v.push_back(s);
  return v;
}

// Every size appears once per placement the library supports, with nccl-tests'
// bytes and count, a positive time, consistent bandwidths and no wrong value.
void expect_rows(const Result& r, Collective c, const std::vector<std::uint64_t>& sizes,
                 std::vector<bool> placements) {
  SCOPED_TRACE(r.library + " " + r.collective);
  EXPECT_EQ(r.collective, to_string(c));
  ASSERT_EQ(r.rows.size(), sizes.size() * placements.size());
  const bool full = c == Collective::allgather || c == Collective::reduce_scatter;
  for (auto bytes : sizes) {
    for (bool in_place : placements) {
      const Row* row = r.find(bytes, in_place);
      ASSERT_NE(row, nullptr) << bytes << " in_place " << in_place;
      EXPECT_EQ(row->count, bytes / 4 / (full ? r.nranks : 1));
      EXPECT_EQ(row->wrong, 0u);
      EXPECT_GT(row->time_us, 0);
      EXPECT_NEAR(row->algbw_gbs, bytes / (row->time_us * 1e3), 1e-9 * row->algbw_gbs + 1e-12);
      EXPECT_NEAR(row->busbw_gbs, row->algbw_gbs * busbw_factor(c, r.nranks), 1e-9);
    }
  }
}

std::string slurp(const std::string& path) { return test::read_file(path); }

// The smoke comparison CI runs: 2 ranks, allreduce 4 KiB - 1 MiB, both
// libraries, the side-by-side table and the plot.
TEST(SmokeComparison, AllreduceTwoRanksGlooAndMpiWithPlot) {
  REQUIRE_COMPARATOR("weft-perf-gloo");
  REQUIRE_COMPARATOR("weft-perf-mpi");
  std::string dir = test::make_temp_dir("perf-compare-smoke");
  CompareSpec spec = small_spec(2);
  spec.min_bytes = 4 << 10;
  spec.max_bytes = 1 << 20;
  spec.keep_dir = dir;

  auto gloo = run_gloo(spec);
  auto mpi = run_mpi(spec);
  ASSERT_EQ(gloo.size(), 1u);
  ASSERT_EQ(mpi.size(), 1u);
  EXPECT_EQ(gloo[0].library, "gloo");
  EXPECT_EQ(mpi[0].library, "mpi");
  for (const auto* r : {&gloo[0], &mpi[0]}) {
    EXPECT_EQ(r->nranks, 2);
    EXPECT_EQ(r->dtype, "f32");
    EXPECT_EQ(r->op, "sum");
    expect_rows(*r, Collective::allreduce, sweep(4 << 10, 1 << 20), {false, true});
  }
  // The comparators' own tables end with the nccl-tests-like total.
  EXPECT_NE(slurp(dir + "/gloo-allreduce-rank0.out").find("\n# wrong: 0\n"), std::string::npos);
  EXPECT_NE(slurp(dir + "/mpi-allreduce-rank0.out").find("\n# wrong: 0\n"), std::string::npos);

  std::ostringstream table;
  print_side_by_side(table, {gloo[0], mpi[0]});
  EXPECT_NE(table.str().find("gloo/mpi"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("\n     1048576"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("# wrong (all libraries): 0"), std::string::npos);

  const std::string png = dir + "/allreduce.png";
  write_plot(png, {gloo[0], mpi[0]});
  EXPECT_TRUE(is_png_file(png));
  EXPECT_GT(fs::file_size(png), 1000u);
  fs::remove_all(dir);
}

// Every collective at a world size that is not a power of two; each library
// only where it has the placement (Gloo's reduce-scatter and MPI_Bcast are
// in place only).
TEST(Comparators, EveryCollectiveThreeRanks) {
  REQUIRE_COMPARATOR("weft-perf-gloo");
  REQUIRE_COMPARATOR("weft-perf-mpi");
  CompareSpec spec = small_spec(3);
  spec.collectives = {Collective::allreduce, Collective::allgather, Collective::reduce_scatter,
                      Collective::broadcast};
  spec.min_bytes = 3 << 10;
  spec.max_bytes = 24 << 10;
  spec.iters = 2;
  spec.root = 1;
  auto sizes = sweep(3 << 10, 24 << 10);
  auto gloo = run_gloo(spec);
  ASSERT_EQ(gloo.size(), 4u);
  expect_rows(gloo[0], Collective::allreduce, sizes, {false, true});
  expect_rows(gloo[1], Collective::allgather, sizes, {false, true});
  expect_rows(gloo[2], Collective::reduce_scatter, sizes, {true});
  expect_rows(gloo[3], Collective::broadcast, sizes, {false, true});
  auto mpi = run_mpi(spec);
  ASSERT_EQ(mpi.size(), 4u);
  expect_rows(mpi[0], Collective::allreduce, sizes, {false, true});
  expect_rows(mpi[1], Collective::allgather, sizes, {false, true});
  expect_rows(mpi[2], Collective::reduce_scatter, sizes, {false, true});
  expect_rows(mpi[3], Collective::broadcast, sizes, {true});
}

// The checker can fail: with one result element spoiled per checked row, every
// row reports it and the comparator exits 1 with the total.
TEST(Comparators, CheckerCountsSpoiledResults) {
  REQUIRE_COMPARATOR("weft-perf-gloo");
  REQUIRE_COMPARATOR("weft-perf-mpi");
  std::string dir = test::make_temp_dir("perf-compare-corrupt");
  std::vector<std::string> sweep_args = {"allreduce", "-b", "4K", "-e", "8K", "-n", "1",
                                         "-w", "0", "--algo", "ring", "--corrupt-for-test"};
  std::vector<test::Subprocess> ranks;
  for (int r = 0; r < 2; ++r) {
    std::vector<std::string> argv = {test::bin("weft-perf-gloo")};
    argv.insert(argv.end(), sweep_args.begin(), sweep_args.end());
    argv.insert(argv.end(), {"--store-dir", dir, "--rank", std::to_string(r), "--nranks", "2"});
    test::Subprocess::Options o;
    o.stdout_path = dir + "/gloo" + std::to_string(r) + ".out";
    ranks.push_back(test::Subprocess::spawn(argv, o));
  }
  for (auto& p : ranks) {
    auto st = p.wait_for(std::chrono::seconds(60));
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->code, 1);
  }
  // 2 sizes x 2 placements, one algorithm each: 4 rows with one wrong value.
  EXPECT_NE(slurp(dir + "/gloo0.out").find("\n# wrong: 4\n"), std::string::npos)
      << slurp(dir + "/gloo0.out");

  sweep_args[10] = "default";
  std::vector<std::string> argv = {find_in_path("mpirun"), "--allow-run-as-root", "--oversubscribe", "-np", "2",
                                   test::bin("weft-perf-mpi")};
  argv.insert(argv.end(), sweep_args.begin(), sweep_args.end());
  test::Subprocess::Options o;
  o.stdout_path = dir + "/mpi.out";
  auto mpi = test::Subprocess::spawn(argv, o);
  auto st = mpi.wait_for(std::chrono::seconds(60));
  ASSERT_TRUE(st.has_value());
  EXPECT_NE(st->code, 0);
  EXPECT_NE(slurp(dir + "/mpi.out").find("\n# wrong: 4\n"), std::string::npos)
      << slurp(dir + "/mpi.out");
  fs::remove_all(dir);
}

TEST(Launcher, MissingComparatorIsUnsupported) {
  CompareSpec spec = small_spec(2);
  spec.bin_dir = "/nonexistent-weft-bin";
  try {
    run_gloo(spec);
    FAIL() << "expected Unsupported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_EQ(e.message(),
              "weft-perf-gloo not found in /nonexistent-weft-bin (was it built? it needs "
              "libgloo-dev / libopenmpi-dev: scripts/setup.sh)");
  }
  EXPECT_THROW(run_comparator("nccl", spec), Error);
}

}  // namespace
}  // namespace weft::perf
