// weft-perf end to end: weft and its comparators (Gloo over TCP, Open MPI
// under mpirun) run for real in one invocation, results checked exactly
// (-c 1); and the driver's refusals of bad input, with their exact messages.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "launcher.h"
#include "plot.h"
#include "result.h"
#include "subprocess.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

namespace fs = std::filesystem;

bool built(const std::string& name) { return ::access(test::bin(name).c_str(), X_OK) == 0; }

#define REQUIRE_COMPARATORS()                                                         \
  if (!built("weft-perf-gloo") || !built("weft-perf-mpi"))                            \
  GTEST_SKIP() << "weft-perf-gloo / weft-perf-mpi not built (libgloo-dev / libopenmpi-dev)"

struct Output {
  int code = -1;
  std::string out, err;
};

// Runs weft-perf with `args` (and extra environment); its stdout and stderr.
Output weft_perf(const std::vector<std::string>& args,
                 std::vector<std::pair<std::string, std::string>> env = {}) {
  std::string dir = test::make_temp_dir("weft-perf-cli");
  std::vector<std::string> argv = {test::bin("weft-perf")};
  argv.insert(argv.end(), args.begin(), args.end());
  test::Subprocess::Options o;
  o.env = std::move(env);
  o.stdout_path = dir + "/out";
  o.stderr_path = dir + "/err";
  auto p = test::Subprocess::spawn(argv, o);
  auto st = p.wait_for(std::chrono::seconds(120));
  Output r;
  r.code = st ? st->code : -1;
  r.out = test::read_file(dir + "/out");
  r.err = test::read_file(dir + "/err");
  fs::remove_all(dir);
  return r;
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// The smoke comparison CI runs: 2 ranks, allreduce 1 KiB - 64 KiB, weft,
// Gloo and Open MPI side by side, every result checked.
TEST(SmokeComparison, WeftGlooMpiAllreduceTwoRanks) {
  REQUIRE_COMPARATORS();
  std::string keep = test::make_temp_dir("weft-perf-smoke");
  auto r = weft_perf({"allreduce", "--np", "2", "-b", "1K", "-e", "64K", "--compare", "gloo,mpi",
                      "-c", "1", "--keep-dir", keep});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  // Each library's own table, then the side-by-side one and a wrong line each.
  EXPECT_TRUE(has(r.out, "# weft: allreduce, 2 ranks, f32 sum")) << r.out;
  EXPECT_TRUE(has(r.out, "# gloo: allreduce, 2 ranks, f32 sum")) << r.out;
  EXPECT_TRUE(has(r.out, "# mpi: allreduce, 2 ranks, f32 sum")) << r.out;
  EXPECT_TRUE(has(r.out, "weft/gloo")) << r.out;
  EXPECT_TRUE(has(r.out, "weft/mpi")) << r.out;
  for (const char* lib : {"weft", "gloo", "mpi"}) {
    EXPECT_TRUE(has(r.out, str("\n# wrong: 0 (", lib, ")\n"))) << r.out;
    // The JSON each library's rank 0 wrote: every size, both placements, all right.
    Result res = read_result_file(str(keep, "/", lib, "-allreduce.json"));
    EXPECT_EQ(res.library, lib);
    EXPECT_EQ(res.nranks, 2);
    ASSERT_EQ(res.rows.size(), 14u) << lib;  // 1K..64K: 7 sizes x 2 placements
    for (std::uint64_t bytes = 1024; bytes <= 65536; bytes *= 2) {
      for (bool in_place : {false, true}) {
        const Row* row = res.find(bytes, in_place);
        ASSERT_NE(row, nullptr) << lib << " " << bytes;
        EXPECT_EQ(row->count, bytes / 4);
        EXPECT_EQ(row->wrong, 0u);
        EXPECT_GT(row->busbw_gbs, 0);
      }
    }
  }
  // The side-by-side row for 64 KiB carries two ratios.
  std::istringstream lines(r.out);
  std::string line, row64;
  while (std::getline(lines, line)) {
    if (line.rfind("       65536", 0) == 0) row64 = line;
  }
  EXPECT_EQ(std::count(row64.begin(), row64.end(), 'x'), 2) << row64;
  fs::remove_all(keep);
}

// --limits adds the memory figures and a fraction-of-bound column per
// library; --plot draws the PNG.
TEST(SmokeComparison, LimitsAndPlot) {
  REQUIRE_COMPARATORS();
  if (::access("/usr/bin/gnuplot", X_OK) != 0) GTEST_SKIP() << "gnuplot not installed";
  std::string dir = test::make_temp_dir("weft-perf-plot");
  auto r = weft_perf({"allgather", "--np", "2", "-b", "64K", "-e", "256K", "-n", "2", "-w", "1",
                      "--compare", "mpi", "--limits", "--plot", dir + "/ag.png"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "\n  memcpy ")) << r.out;
  EXPECT_TRUE(has(r.out, "\n  a+=b f32 ")) << r.out;
  EXPECT_TRUE(has(r.out, "# bound: ")) << r.out;
  EXPECT_TRUE(has(r.out, "weft/bound")) << r.out;
  EXPECT_TRUE(has(r.out, "mpi/bound")) << r.out;
  EXPECT_TRUE(has(r.out, "\n  memcpy shared ")) << r.out;
  EXPECT_TRUE(has(r.out, "# shared bound: ")) << r.out;
  EXPECT_TRUE(has(r.out, "weft/shared")) << r.out;
  EXPECT_TRUE(is_png_file(dir + "/ag.png"));
  EXPECT_TRUE(has(test::read_file(dir + "/ag.png.gp"), "title 'mpi'"));
  fs::remove_all(dir);
}

// The checker can fail: one spoiled element per checked row and algorithm,
// counted per library, and the run exits 1.
TEST(SmokeComparison, CheckerCountsSpoiledResults) {
  REQUIRE_COMPARATORS();
  auto r = weft_perf({"allreduce", "--np", "2", "-b", "4K", "-e", "8K", "-n", "1", "-w", "0",
                      "--compare", "gloo,mpi", "--corrupt-for-test"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  // 2 sizes x 2 placements; Gloo tries 2 algorithms out of place, 4 in place.
  EXPECT_TRUE(has(r.out, "\n# wrong: 4 (weft)\n")) << r.out;
  EXPECT_TRUE(has(r.out, "\n# wrong: 12 (gloo)\n")) << r.out;
  EXPECT_TRUE(has(r.out, "\n# wrong: 4 (mpi)\n")) << r.out;
}

// --blocking: every library's ranks get it (the header says so), and the
// results are still checked.
TEST(SmokeComparison, BlockingCallsReachEveryLibrary) {
  REQUIRE_COMPARATORS();
  auto r = weft_perf({"allreduce", "--np", "2", "-b", "8", "-e", "1K", "-f", "8", "-n", "50",
                      "-w", "5", "--compare", "gloo,mpi", "--blocking", "-c", "1"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  for (const char* lib : {"weft", "gloo", "mpi"}) {
    EXPECT_TRUE(has(r.out, str("# ", lib, ": allreduce, 2 ranks, f32 sum, iters 50, warmup 5, "
                               "check 1, each call waited for\n")))
        << lib << "\n" << r.out;
    EXPECT_TRUE(has(r.out, str("\n# wrong: 0 (", lib, ")\n"))) << r.out;
  }
}

// Every collective, 3 ranks (not a power of two), a non-default dtype and
// op; each library where it has the placement.
TEST(Runners, EveryCollectiveThreeRanks) {
  REQUIRE_COMPARATORS();
  LaunchSpec spec;
  spec.bin_dir = test::bin_dir();
  spec.nranks = 3;
  spec.timeout = std::chrono::seconds(90);
  spec.sweep.min_bytes = spec.sweep.max_bytes = 3 << 10;
  spec.sweep.iters = 1;
  spec.sweep.warmup = 0;
  spec.sweep.root = 1;
  spec.sweep.dtype = DataType::i32;
  spec.sweep.op = ReduceOp::max;
  for (Collective c : kAllCollectives) {
    for (const char* lib : {"weft", "gloo", "mpi"}) {
      if (std::string(lib) == "gloo" && c == Collective::sendrecv) continue;  // Gloo has none
      SCOPED_TRACE(str(lib, " ", to_string(c)));
      spec.sweep.collective = c;
      Result r = run_library(lib, spec);
      EXPECT_EQ(r.collective, to_string(c));
      EXPECT_FALSE(r.rows.empty());
      for (const auto& row : r.rows) {
        EXPECT_EQ(row.bytes, 3u << 10);
        EXPECT_EQ(row.wrong, 0u) << "in_place " << row.in_place;
        EXPECT_NEAR(row.busbw_gbs, row.algbw_gbs * busbw_factor(c, 3), 1e-9);
      }
    }
  }
}

TEST(Launcher, MissingRunnerIsUnsupported) {
  LaunchSpec spec;
  spec.bin_dir = "/nonexistent-weft-bin";
  try {
    run_library("gloo", spec);
    FAIL() << "expected Unsupported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_EQ(e.message(),
              "weft-perf-gloo not found in /nonexistent-weft-bin (was it built? it needs "
              "libgloo-dev / libopenmpi-dev: scripts/setup.sh)");
  }
}

// --- refusals, before any rank starts ----------------------------------------------

void expect_refused(const Output& r, const std::string& message) {
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(r.err, "weft-perf: " + message + "\n");
}

TEST(Refusals, UnknownComparator) {
  expect_refused(weft_perf({"allreduce", "--np", "2", "--compare", "gloo,foo"}),
                 "[InvalidArgument] unknown comparator \"foo\" (known: gloo, mpi, nccl)");
}

TEST(Refusals, PlotWithoutGnuplot) {
  expect_refused(weft_perf({"allreduce", "--np", "2", "--plot", "/tmp/x.png"},
                           {{"PATH", "/nonexistent-weft-path"}}),
                 "[Unsupported] plot: gnuplot not found in PATH (install gnuplot-nox: "
                 "scripts/setup.sh)");
}

TEST(Refusals, ComparatorWithoutTheDtype) {
  expect_refused(weft_perf({"allreduce", "--np", "2", "-d", "bf16", "--compare", "gloo"}),
                 "[Unsupported] gloo cannot run bf16 (it runs f32 f64 i32 i64)");
}

TEST(Refusals, CompareNeedsNp) {
  expect_refused(weft_perf({"allreduce", "--compare", "mpi"}),
                 "[InvalidArgument] --compare, --plot and --limits need --np N (weft-perf then "
                 "starts every library's ranks)");
}

TEST(Refusals, GraphNeedsGpus) {
  expect_refused(weft_perf({"allreduce", "--np", "2", "--graph", "--compare", "mpi"}),
                 "[InvalidArgument] --graph applies to GPU runs: use it with -g or --compare nccl");
}

TEST(Refusals, BlockingWithGraph) {
  expect_refused(weft_perf({"allreduce", "-g", "--blocking", "--graph"}),
                 "[InvalidArgument] --blocking and --graph exclude each other: a graph replays a "
                 "whole batch");
}

TEST(Refusals, LimitsOnGpus) {
  expect_refused(weft_perf({"allreduce", "--np", "2", "-g", "--limits"}),
                 "[InvalidArgument] --limits measures host memory bandwidth; it has no bound for "
                 "GPU runs");
}

TEST(Refusals, AlgorithmTheLibraryLacks) {
  // Checked by the rank itself (the library knows its algorithms), reported
  // by the driver with the rank's message.
  auto r = weft_perf({"allreduce", "--np", "1", "-b", "1K", "-e", "1K", "--algo", "ring"});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.err, "weft has no algorithm \"ring\" for allreduce (it has auto)")) << r.err;
}

TEST(Refusals, HostComparatorBesideGpus) {
  expect_refused(weft_perf({"allreduce", "--np", "2", "-g", "--compare", "gloo"}),
                 "[InvalidArgument] gloo runs on host memory and weft here on the GPUs (-g / "
                 "--compare nccl): compare them in separate runs");
}

TEST(Refusals, NcclLibraryMissing) {
  auto r = weft_perf({"allreduce", "--np", "2", "--compare", "nccl", "--nccl-lib",
                      "/nonexistent/libnccl.so.2"});
#ifdef WEFT_WITH_CUDA
  expect_refused(r, "[Unsupported] nccl: cannot load /nonexistent/libnccl.so.2 (pass --nccl-lib "
                    "PATH or set NCCL_LIB)");
#else
  expect_refused(r, "[Unsupported] nccl: this weft-perf was built without CUDA (configure with "
                    "WEFT_CUDA=ON)");
#endif
}

TEST(Refusals, WeftOnGpusWithoutGpus) {
  auto r = weft_perf({"allreduce", "--np", "2", "-g"});
#ifdef WEFT_WITH_CUDA
  if (::access("/dev/nvidiactl", F_OK) == 0) GTEST_SKIP() << "this machine has a GPU driver";
  expect_refused(r, "[Unsupported] GPU runs need 2 CUDA devices (one process per GPU), found 0");
#else
  expect_refused(r, "[Unsupported] -g: this weft-perf was built without CUDA (configure with "
                    "WEFT_CUDA=ON)");
#endif
}

#ifdef WEFT_WITH_CUDA
TEST(Refusals, NcclLibraryWithoutNccl) {
  // A shared library that loads but is not NCCL: weft's own.
  const std::string lib = fs::canonical(test::bin_dir() + "/../lib/libweft.so").string();
  expect_refused(weft_perf({"allreduce", "--np", "2", "--compare", "nccl", "--nccl-lib", lib}),
                 "[Unsupported] nccl: " + lib + " has no ncclGetVersion (not an NCCL 2.x library)");
}

TEST(Refusals, NcclWithoutGpus) {
  if (::access("/dev/nvidiactl", F_OK) == 0) GTEST_SKIP() << "this machine has a GPU driver";
  // NCCL_LIB (not --nccl-lib) names the library here: both ways are honoured.
  const char* candidates[] = {"/usr/local/cuda/lib/libnccl.so.2",
                              "/usr/local/cuda/lib64/libnccl.so.2",
                              "/usr/lib/x86_64-linux-gnu/libnccl.so.2"};
  std::string lib;
  for (const char* c : candidates) {
    if (::access(c, R_OK) == 0) lib = c;
  }
  if (lib.empty()) GTEST_SKIP() << "no libnccl.so.2 on this machine";
  expect_refused(weft_perf({"allreduce", "--np", "2", "--compare", "nccl"}, {{"NCCL_LIB", lib}}),
                 "[Unsupported] GPU runs need 2 CUDA devices (one process per GPU), found 0");
}
#endif

}  // namespace
}  // namespace weft::perf
