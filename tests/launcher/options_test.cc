// Unit tests of weftrun's pieces that need no processes: option parsing
// (CLI and PET_* variables), the worker environment, output line splitting.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "devices.h"
#include "options.h"
#include "output.h"
#include "worker_env.h"
#include "weft/error.h"

namespace weftrun {
namespace {

// Sets an environment variable for one test, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

ParseResult parse(std::vector<std::string> args) {
  args.insert(args.begin(), "weftrun");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

void expect_invalid(const std::function<void()>& fn, const std::string& message) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const weft::Error& e) {
    EXPECT_EQ(e.code(), weft::ErrorCode::InvalidArgument);
    EXPECT_EQ(e.message(), message);
  }
}

TEST(WeftrunOptions, Nnodes) {
  EXPECT_EQ(parse_nnodes("3"), std::make_pair(3, 3));
  EXPECT_EQ(parse_nnodes("2:4"), std::make_pair(2, 4));
  expect_invalid([] { parse_nnodes("4:2"); }, "--nnodes 4:2 must be N or MIN:MAX with 1 <= MIN <= MAX");
  expect_invalid([] { parse_nnodes("x"); }, "--nnodes expects an integer, got 'x'");
}

TEST(WeftrunOptions, NprocPerNode) {
  EXPECT_EQ(parse_nproc_per_node("9"), 9);
  EXPECT_EQ(parse_nproc_per_node("cpu"), usable_cpu_count());
  expect_invalid([] { parse_nproc_per_node("0"); }, "--nproc-per-node 0 must be >= 1 (or auto, cpu, gpu)");
  {
    ScopedEnv cvd("CUDA_VISIBLE_DEVICES", "0,1,2");
    EXPECT_EQ(parse_nproc_per_node("gpu"), 3);
    EXPECT_EQ(parse_nproc_per_node("auto"), 3);
  }
  {
    ScopedEnv cvd("CUDA_VISIBLE_DEVICES", "");
    EXPECT_EQ(parse_nproc_per_node("auto"), usable_cpu_count());
    expect_invalid([] { parse_nproc_per_node("gpu"); },
                   "--nproc-per-node gpu: no GPU is visible (CUDA_VISIBLE_DEVICES, /proc/driver/nvidia/gpus and "
                   "nvidia-smi -L report none)");
  }
}

TEST(WeftrunOptions, CudaVisibleDevices) {
  EXPECT_EQ(count_cuda_visible_devices(""), 0);
  EXPECT_EQ(count_cuda_visible_devices("0"), 1);
  EXPECT_EQ(count_cuda_visible_devices("3,1"), 2);
  EXPECT_EQ(count_cuda_visible_devices("0,1,-1,2"), 2);  // stops at the invalid entry
  EXPECT_EQ(count_cuda_visible_devices("-1"), 0);
  EXPECT_EQ(count_cuda_visible_devices("GPU-8f1c,MIG-12ab"), 2);
}

TEST(WeftrunOptions, Endpoint) {
  EXPECT_EQ(parse_endpoint("node0:1234", 29400), std::make_pair(std::string("node0"), uint16_t{1234}));
  EXPECT_EQ(parse_endpoint("node0", 29400), std::make_pair(std::string("node0"), uint16_t{29400}));
  EXPECT_EQ(parse_endpoint("[fe80::1]:99", 1), std::make_pair(std::string("fe80::1"), uint16_t{99}));
  EXPECT_EQ(parse_endpoint("fe80::1", 7), std::make_pair(std::string("fe80::1"), uint16_t{7}));
  expect_invalid([] { parse_endpoint("h:99999", 1); }, "endpoint h:99999: port out of range");
}

TEST(WeftrunOptions, StreamSelectAndConf) {
  StreamSelect all = parse_stream_select("--tee", "3");
  EXPECT_TRUE(all.out(5));
  EXPECT_TRUE(all.err(0));
  StreamSelect some = parse_stream_select("--redirects", "0:1,2:2");
  EXPECT_TRUE(some.out(0));
  EXPECT_FALSE(some.err(0));
  EXPECT_FALSE(some.out(1));
  EXPECT_TRUE(some.err(2));
  expect_invalid([] { parse_stream_select("--tee", "4"); },
                 "--tee values are 0 (none), 1 (stdout), 2 (stderr), 3 (both); got 4");
  auto conf = parse_rdzv_conf("join_timeout=5,is_host=true");
  EXPECT_EQ(conf.at("join_timeout"), "5");
  EXPECT_EQ(conf.at("is_host"), "true");
  expect_invalid([] { parse_rdzv_conf("join_timeout"); },
                 "--rdzv-conf join_timeout: expected KEY=VALUE,KEY=VALUE,... (got 'join_timeout')");
}

TEST(WeftrunOptions, StandaloneScript) {
  auto r = parse({"--standalone", "--nproc-per-node", "4", "train.py", "--lr", "0.1"});
  ASSERT_TRUE(r.options);
  const Options& o = *r.options;
  EXPECT_EQ(o.nproc, 4);
  EXPECT_EQ(o.rdzv_backend, "c10d");
  EXPECT_EQ(o.endpoint_host, "localhost");
  EXPECT_EQ(o.endpoint_port, 0);
  EXPECT_NE(o.rdzv_id, "none");  // a random id
  EXPECT_EQ(o.command, (std::vector<std::string>{"python3", "-u", "train.py", "--lr", "0.1"}));
}

TEST(WeftrunOptions, ProgramAfterDashDash) {
  auto r = parse({"--nnodes=2", "--node-rank", "1", "--master-addr", "10.0.0.1", "--", "./prog", "-x", "--nnodes"});
  ASSERT_TRUE(r.options);
  const Options& o = *r.options;
  EXPECT_EQ(o.rdzv_backend, "static");
  EXPECT_EQ(o.endpoint_host, "10.0.0.1");
  EXPECT_EQ(o.endpoint_port, 29500);
  EXPECT_EQ(o.node_rank, 1);
  EXPECT_TRUE(o.host_by_node_rank);
  EXPECT_EQ(o.command, (std::vector<std::string>{"./prog", "-x", "--nnodes"}));
}

TEST(WeftrunOptions, C10dAndConf) {
  auto r = parse({"--nnodes", "3", "--rdzv-backend", "c10d", "--rdzv-endpoint", "node0", "--rdzv-conf",
                  "join_timeout=7.5,keep_alive_interval=0.5,keep_alive_max_attempt=4", "--no-python", "x.py"});
  ASSERT_TRUE(r.options);
  const Options& o = *r.options;
  EXPECT_EQ(o.endpoint_port, 29400);
  EXPECT_EQ(o.join_timeout, std::chrono::milliseconds(7500));
  EXPECT_EQ(o.keep_alive_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(o.keep_alive_max_attempt, 4);
  EXPECT_FALSE(o.node_rank.has_value());
  EXPECT_EQ(o.command, (std::vector<std::string>{"x.py"}));
}

TEST(WeftrunOptions, PetEnvironment) {
  ScopedEnv a("PET_NPROC_PER_NODE", "5");
  ScopedEnv b("PET_STANDALONE", "1");
  ScopedEnv c("PET_MAX_RESTARTS", "2");
  auto r = parse({"--max-restarts", "3", "--", "prog"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->nproc, 5);
  EXPECT_TRUE(r.options->standalone);
  EXPECT_EQ(r.options->max_restarts, 3);  // the command line wins over PET_*
}

TEST(WeftrunOptions, UsageErrors) {
  testing::internal::CaptureStderr();
  auto unknown = parse({"--bogus", "prog"});
  auto no_program = parse({"--standalone"});
  auto c10d = parse({"--rdzv-backend", "c10d", "--", "prog"});
  auto backend = parse({"--rdzv-backend", "etcd", "--", "prog"});
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(unknown.options);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_FALSE(no_program.options);
  EXPECT_FALSE(c10d.options);
  EXPECT_FALSE(backend.options);
  EXPECT_NE(err.find("weftrun: unknown option --bogus (see weftrun --help)"), std::string::npos) << err;
  EXPECT_NE(err.find("weftrun: no program to run"), std::string::npos) << err;
  EXPECT_NE(err.find("weftrun: --rdzv-backend c10d needs --rdzv-endpoint HOST[:PORT]"), std::string::npos) << err;
  EXPECT_NE(err.find("weftrun: --rdzv-backend etcd is not supported (static or c10d)"), std::string::npos) << err;
}

TEST(WeftrunWorkerEnv, TorchrunVariables) {
  Environment base = {{"PATH", "/bin"}, {"CUDA_VISIBLE_DEVICES", "2,3"}, {"RANK", "stale"}};
  WorkerPlace place{5, 1, 8, 2, 2, 4};
  RunInfo run{"job7", 1, 3, "10.1.2.3", 29400};
  Environment env = worker_environment(base, place, run);
  Environment expected = {
      {"PATH", "/bin"}, {"CUDA_VISIBLE_DEVICES", "2,3"}, {"RANK", "5"}, {"LOCAL_RANK", "1"}, {"WORLD_SIZE", "8"},
      {"LOCAL_WORLD_SIZE", "2"}, {"GROUP_RANK", "2"}, {"GROUP_WORLD_SIZE", "4"}, {"ROLE_NAME", "default"},
      {"ROLE_RANK", "5"}, {"ROLE_WORLD_SIZE", "8"}, {"MASTER_ADDR", "10.1.2.3"}, {"MASTER_PORT", "29400"},
      {"WEFT_RUN_ID", "job7"}, {"WEFT_RESTART_COUNT", "1"}, {"TORCHELASTIC_RUN_ID", "job7"},
      {"TORCHELASTIC_RESTART_COUNT", "1"}, {"TORCHELASTIC_MAX_RESTARTS", "3"},
      {"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"OMP_NUM_THREADS", "1"}};
  EXPECT_EQ(env, expected);
  base["OMP_NUM_THREADS"] = "6";
  EXPECT_EQ(worker_environment(base, place, run).at("OMP_NUM_THREADS"), "6");
}

TEST(WeftrunOutput, LineSplitter) {
  LineSplitter splitter(8);
  std::vector<std::string> lines;
  auto emit = [&](std::string_view s) { lines.emplace_back(s); };
  splitter.feed("ab", emit);
  EXPECT_TRUE(lines.empty());
  splitter.feed("c\nde\n\nf", emit);
  EXPECT_EQ(lines, (std::vector<std::string>{"abc", "de", ""}));
  splitter.feed("0123456789\n", emit);  // "f0123456" hits the 8-byte cap
  EXPECT_EQ(lines, (std::vector<std::string>{"abc", "de", "", "f0123456", "789"}));
  splitter.feed("tail", emit);
  splitter.finish(emit);
  EXPECT_EQ(lines.back(), "tail");
}

TEST(WeftrunOutput, SinkPrefixesAndKeepsTail) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  {
    StreamSink sink("[3]:", fds[1], "", 2);
    sink.write("one\ntw");
    sink.write("o\nthree\nfour");
    sink.finish();
    EXPECT_EQ(sink.tail(), (std::vector<std::string>{"three", "four"}));
  }
  ::close(fds[1]);
  char buffer[256] = {0};
  ssize_t n = ::read(fds[0], buffer, sizeof buffer - 1);
  ::close(fds[0]);
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(n)), "[3]:one\n[3]:two\n[3]:three\n[3]:four\n");
}

}  // namespace
}  // namespace weftrun
