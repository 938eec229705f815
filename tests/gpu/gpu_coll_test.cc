// GPU collectives across real processes, one per GPU (label gpu): every
// collective x dtype x op, graph replays, and faults, on 2, 4 and 8 GPUs
// (as many as the machine has). Each case spawns gpu_coll_worker per rank
// with this process hosting the store.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "subprocess.h"
#include "weft/store.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

// Runs `mode` on `n` ranks; returns each rank's exit status and output.
// `host_of(r)`, when given, is rank r's WEFT_HOST_ID (virtual hosts).
void run_ranks(const std::string& mode, int n, std::chrono::seconds limit,
               const std::string& worker = "gpu_coll_worker",
               std::function<std::string(int)> host_of = {}, std::vector<int> skip = {},
               std::vector<std::pair<std::string, std::string>> env = {}) {
  auto server = StoreServer::start({.host = "127.0.0.1", .port = 0});
  std::string dir = make_temp_dir("gpu-coll");
  std::vector<Subprocess> ranks;
  for (int r = 0; r < n; ++r) {
    Subprocess::Options o;
    o.env = {{"RANK", std::to_string(r)},
             {"WORLD_SIZE", std::to_string(n)},
             {"WEFT_TEST_STORE_PORT", std::to_string(server->port())}};
    if (host_of) o.env.push_back({"WEFT_HOST_ID", host_of(r)});
    o.env.insert(o.env.end(), env.begin(), env.end());
    o.stdout_path = dir + "/rank" + std::to_string(r) + ".out";
    o.stderr_path = dir + "/rank" + std::to_string(r) + ".err";
    ranks.push_back(Subprocess::spawn({bin(worker), mode}, o));
  }
  for (int r = 0; r < n; ++r) {
    if (std::find(skip.begin(), skip.end(), r) != skip.end()) continue;
    auto status = ranks[r].wait_for(limit);
    std::string out = read_file(dir + "/rank" + std::to_string(r) + ".out");
    std::string err = read_file(dir + "/rank" + std::to_string(r) + ".err");
    ASSERT_TRUE(status.has_value()) << mode << " rank " << r << " of " << n << " hung\n" << out << err;
    EXPECT_TRUE(status->exited() && status->code == 0)
        << mode << " rank " << r << " of " << n << " failed (code " << status->code << ", signal "
        << status->signal << ")\n" << out << err;
    std::printf("[%s n=%d] %s", mode.c_str(), n, out.c_str());
  }
}

class GpuCollectives : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (device_count() < GetParam())
      GTEST_SKIP() << "needs " << GetParam() << " GPUs, this machine has " << device_count();
  }
};

TEST_P(GpuCollectives, EveryCollectiveDtypeAndOp) { run_ranks("correctness", GetParam(), 280s); }
TEST_P(GpuCollectives, GraphCaptureAndReplays) { run_ranks("graph", GetParam(), 120s); }
TEST_P(GpuCollectives, PipelinedSmallOpsOfChangingSizes) { run_ranks("pipeline", GetParam(), 120s); }
// The same with LL for every size it can carry and a grid of 2 blocks, so
// that LL threads work through several batches of lines.
TEST_P(GpuCollectives, PipelinedLLWithManyLinesPerThread) {
  run_ranks("pipeline", GetParam(), 120s, "gpu_coll_worker", {}, {},
            {{"WEFT_GPU_BLOCKS", "2"}, {"WEFT_GPU_LL_MAX_BYTES", "1048576"}});
}
TEST_P(GpuCollectives, KilledRankGivesPeerLost) { run_ranks("peerlost", GetParam(), 60s); }
TEST_P(GpuCollectives, StalledRankGivesTimeout) { run_ranks("timeout", GetParam(), 60s); }
// The same path through weft::Communicator (Device::cuda), with registered
// buffers (zero-copy allreduce) and graph replays.
TEST_P(GpuCollectives, PublicApiWithRegistration) { run_ranks("api", GetParam(), 280s, "gpu_api_worker"); }
TEST_P(GpuCollectives, OneRankRegisteredGivesMismatch) {
  run_ranks("zero_copy_mismatch", GetParam(), 60s, "gpu_api_worker");
}

// GPUs on virtual hosts (WEFT_HOST_ID): staged through pinned host memory
// and sockets between hosts, NVLink inside. {hosts, ranks per host}; ranks
// share GPUs (rank % GPUs) where there are fewer GPUs than ranks, so 2 GPUs
// run 2 hosts x 2 ranks.
class GpuMultiHost : public ::testing::TestWithParam<std::pair<int, int>> {
 protected:
  void SetUp() override {
    if (device_count() < 2) GTEST_SKIP() << "needs 2 GPUs, this machine has " << device_count();
    const auto [hosts, per_host] = GetParam();
    if (hosts * per_host > 2 * device_count())
      GTEST_SKIP() << "needs " << (hosts * per_host + 1) / 2 << " GPUs, this machine has " << device_count();
  }
  static std::function<std::string(int)> layout() {
    const int per_host = GetParam().second;
    return [per_host](int r) { return "vhost" + std::to_string(r / per_host); };
  }
  int ranks() const { return GetParam().first * GetParam().second; }
};

TEST_P(GpuMultiHost, EveryCollective) {
  run_ranks("multihost", ranks(), 400s, "gpu_api_worker", layout());
}
TEST_P(GpuMultiHost, KilledRankGivesPeerLost) {
  run_ranks("multihost_peerlost", ranks(), 120s, "gpu_api_worker", layout(), {1});
}

INSTANTIATE_TEST_SUITE_P(Layouts, GpuMultiHost,
                         ::testing::Values(std::pair{2, 1}, std::pair{2, 2}, std::pair{2, 4},
                                           std::pair{4, 2}),
                         [](const auto& info) {
                           return std::to_string(info.param.first) + "x" +
                                  std::to_string(info.param.second);
                         });

INSTANTIATE_TEST_SUITE_P(Gpus, GpuCollectives, ::testing::Values(2, 4, 8),
                         [](const auto& info) { return std::to_string(info.param) + "gpus"; });

}  // namespace
}  // namespace weft::test
