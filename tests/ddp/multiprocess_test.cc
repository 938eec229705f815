// The reducer across real processes over loopback: this test hosts the store
// (embedded StoreServer) and spawns ddp_worker once per rank; each rank checks
// its results against an independent reference and prints one RESULT line.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <regex>

#include "subprocess.h"
#include "weft/store.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

struct Result {
  std::string code;  // "OK", an ErrorCode name, FAILED, or "" when nothing was printed
  std::string msg;
  std::string buckets;  // the BUCKETS line, if any
  std::string output;
};

std::vector<Result> run_ranks(int n, const std::vector<std::string>& args) {
  StoreServerOptions so;
  so.host = "127.0.0.1";
  so.port = 0;
  auto server = StoreServer::start(so);
  const std::string dir = make_temp_dir("ddp");
  std::vector<Subprocess> procs;
  for (int r = 0; r < n; ++r) {
    Subprocess::Options o;
    o.env = {{"RANK", std::to_string(r)},
             {"WORLD_SIZE", std::to_string(n)},
             {"MASTER_ADDR", "127.0.0.1"},
             {"MASTER_PORT", std::to_string(server->port())},
             {"WEFT_TIMEOUT_S", "60"}};
    o.stdout_path = dir + "/out." + std::to_string(r);
    o.stderr_path = dir + "/err." + std::to_string(r);
    std::vector<std::string> argv = {bin("ddp_worker")};
    argv.insert(argv.end(), args.begin(), args.end());
    procs.push_back(Subprocess::spawn(argv, o));
  }
  std::vector<Result> results(n);
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  for (int r = 0; r < n; ++r) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!procs[r].wait_for(std::max(left, 1ms))) {
      procs[r].kill(SIGKILL);
      procs[r].wait_for(5s);
      results[r].code = "HUNG";
    }
    const std::string out = read_file(dir + "/out." + std::to_string(r));
    results[r].output = out + read_file(dir + "/err." + std::to_string(r));
    static const std::regex result_re(R"(RESULT rank=-?\d+ code=(\S+) t_ms=\d+ msg=(.*))");
    static const std::regex buckets_re(R"(BUCKETS (\S+))");
    std::smatch m;
    if (results[r].code.empty() && std::regex_search(out, m, result_re)) {
      results[r].code = m[1];
      results[r].msg = m[2];
    }
    if (std::regex_search(out, m, buckets_re)) results[r].buckets = m[1];
  }
  return results;
}

void expect_all_ok(const std::vector<Result>& results) {
  for (size_t r = 0; r < results.size(); ++r)
    EXPECT_EQ(results[r].code, "OK") << "rank " << r << ": " << results[r].msg << "\n"
                                     << results[r].output;
}

// Different random ready orders on every rank and every iteration; exact
// averages; in-order launches; after iteration 0 every rank holds the buckets
// built from rank 0's order (each rank also checks that itself).
class Train : public ::testing::TestWithParam<std::tuple<int, const char*>> {};
TEST_P(Train, ExactAveragesAndIdenticalRebuiltBuckets) {
  const auto [n, mode] = GetParam();
  auto results = run_ranks(n, {"train", mode});
  expect_all_ok(results);
  ASSERT_FALSE(results[0].buckets.empty()) << results[0].output;
  for (int r = 1; r < n; ++r) EXPECT_EQ(results[r].buckets, results[0].buckets) << "rank " << r;
}
INSTANTIATE_TEST_SUITE_P(Ddp, Train,
                         ::testing::Combine(::testing::Values(2, 3, 4),
                                            ::testing::Values("copy", "view")));

TEST(DdpUnused, FindUnusedParametersCopy) { expect_all_ok(run_ranks(3, {"unused", "copy"})); }
TEST(DdpUnused, FindUnusedParametersBucketView) {
  expect_all_ok(run_ranks(3, {"unused", "view"}));
}

TEST(DdpUnused, MissingGradientWithoutFindUnusedIsAnErrorNamingIt) {
  auto results = run_ranks(3, {"missing"});
  for (size_t r = 0; r < results.size(); ++r) {
    EXPECT_EQ(results[r].code, "InvalidArgument") << results[r].output;
    EXPECT_EQ(results[r].msg,
              "rank " + std::to_string(r) +
                  ": ddp::Reducer::finalize (iteration 0): parameter 3 was never marked ready "
                  "(1 of 5 parameters missing); set find_unused_parameters when some parameters "
                  "get no gradient");
  }
}

void expect_mismatch(const std::string& what, const std::string& detail) {
  auto results = run_ranks(3, {"mismatch", what});
  for (size_t r = 0; r < results.size(); ++r) {
    EXPECT_EQ(results[r].code, "Mismatch") << results[r].output;
    EXPECT_EQ(results[r].msg, "rank " + std::to_string(r) +
                                  ": ddp::Reducer: parameter lists differ: " + detail);
  }
}
TEST(DdpMismatch, ElementCount) {
  expect_mismatch("numel", "parameter 2 is 101 x f32 on cpu on rank 1 but 100 x f32 on cpu on rank 0");
}
TEST(DdpMismatch, ParameterCount) {
  expect_mismatch("count",
                  "parameter 5 is 8 x f64 on cpu on rank 2 but missing on rank 0 (rank 2 has 6 "
                  "parameters, rank 0 has 5)");
}
TEST(DdpMismatch, Dtype) {
  expect_mismatch("dtype", "parameter 3 is 30 x f32 on cpu on rank 2 but 30 x f64 on cpu on rank 0");
}

TEST(DdpHook, Fp16CompressionWithinToleranceOfFloat64Reference) {
  expect_all_ok(run_ranks(3, {"hook", "f16"}));
}
TEST(DdpHook, Bf16CompressionWithinToleranceOfFloat64Reference) {
  expect_all_ok(run_ranks(3, {"hook", "bf16"}));
}

}  // namespace
}  // namespace weft::test
