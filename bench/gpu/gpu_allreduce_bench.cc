// weft vs NCCL allreduce, one process per GPU, same buffers, same sizes,
// same run, through weft's public API (Communicator on Device::cuda).
//
//   gpu_allreduce_bench --np 4 [-b 8] [-e 256M] [-d f32|bf16] [--blocks B] [--graph]
//                       [--hosts H] [--nccl-lib PATH] [--host-cost]
//
// --host-cost first prints what one call costs the calling thread (host
// microseconds, mean of 2000 back-to-back calls): weft's and NCCL's 8-byte
// allreduce, and the CUDA runtime calls weft's enqueue makes. Eager launches
// of small operations are paced by these, not by the GPU.
//
// --hosts H splits the GPUs into H virtual hosts of np/H consecutive ranks:
// weft's ranks get WEFT_HOST_ID=<host>, so GPUs of different hosts talk
// through pinned host memory and sockets (src/staging); NCCL's ranks get
// NCCL_HOSTID=<host> (NCCL then treats them as separate nodes and uses its
// network transport between them: NCCL_NET=Socket over loopback,
// NCCL_SOCKET_IFNAME=lo), while GPUs of one host keep NVLink in both.
//
// weft runs twice per size: on cudaMalloc buffers (staged through weft's
// scratch) and on registered weft::cuda::alloc buffers (zero-copy from
// WEFT_GPU_ZERO_COPY_MIN_BYTES on, staged below it); NCCL runs on the
// cudaMalloc buffers.
// The parent hosts the store and spawns --np copies of itself as the ranks.
// Each size is checked (integer-valued data, exact) for both libraries before
// it is timed; times are the mean of -n back-to-back launches between CUDA
// events after -w warm-ups; busbw = 2(n-1)/n * bytes / time (nccl-tests).
#include <cuda_runtime_api.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runners/nccl_api.h"
#include "weft/communicator.h"
#include "weft/cuda.h"
#include "weft/error.h"
#include "weft/store.h"

namespace {

#define CHECK_CUDA(call)                                                                  \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) throw std::runtime_error(std::string(#call) + ": " + cudaGetErrorString(e_)); \
  } while (0)

size_t parse_size(const std::string& s) {
  size_t mult = 1;
  char last = s.empty() ? 0 : s.back();
  if (last == 'K' || last == 'k') mult = 1 << 10;
  if (last == 'M' || last == 'm') mult = 1 << 20;
  if (last == 'G' || last == 'g') mult = size_t(1) << 30;
  return std::stoull(mult == 1 ? s : s.substr(0, s.size() - 1)) * mult;
}

struct Options {
  int np = 2;
  std::string min = "8", max = "256M", dtype = "f32", nccl_lib;
  int iters = 20, warmup = 5, blocks = 0, hosts = 1;
  bool graph = false;
  bool host_cost = false;
};

// Host microseconds per call of `f`, mean over `calls` calls.
template <typename F>
double host_us_per_call(int calls, F&& f) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) f();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / calls;
}

int run_rank(const Options& o, int rank, int n, uint16_t port) {
  using namespace weft;
  CHECK_CUDA(cudaSetDevice(rank));
  const int host = rank / (n / o.hosts);
  if (o.hosts > 1) {
    setenv("WEFT_HOST_ID", str("bench-host-", host).c_str(), 1);
    setenv("NCCL_HOSTID", str("bench-host-", host).c_str(), 1);
    setenv("NCCL_NET", "Socket", 1);
    setenv("NCCL_SOCKET_IFNAME", "lo", 1);
  }
  if (o.blocks > 0) setenv("WEFT_GPU_BLOCKS", std::to_string(o.blocks).c_str(), 1);
  auto tcp = TcpStore::connect({.host = "127.0.0.1", .port = port});
  std::shared_ptr<Store> store(std::move(tcp));
  Communicator comm = Communicator::init(*store, rank, n, {.device = Device::cuda(rank)});

  setenv("NCCL_NVLS_ENABLE", "0", 1);  // NVLink multicast is forbidden on the lent machines
  weft::perf::NcclApi nccl(o.nccl_lib);
  weft::perf::NcclUniqueId id{};
  if (rank == 0) {
    nccl.check(nccl.GetUniqueId(&id), "ncclGetUniqueId");
    store->set("nccl-id", std::span(reinterpret_cast<const uint8_t*>(&id), sizeof id));
  }
  Bytes idb = store->get("nccl-id");
  std::memcpy(&id, idb.data(), sizeof id);
  weft::perf::NcclComm ncomm = nullptr;
  nccl.check(nccl.CommInitRank(&ncomm, n, id, rank), "ncclCommInitRank");
  int version = 0;
  nccl.GetVersion(&version);

  const bool bf16 = o.dtype == "bf16";
  const DataType type = bf16 ? DataType::bf16 : DataType::f32;
  const int ntype = weft::perf::NcclApi::dtype(type);
  const int nsum = weft::perf::NcclApi::op(ReduceOp::sum);
  const size_t es = bf16 ? 2 : 4;
  const size_t max_bytes = parse_size(o.max);
  void *in, *out;
  CHECK_CUDA(cudaMalloc(&in, max_bytes));
  CHECK_CUDA(cudaMalloc(&out, max_bytes));
  void* reg_in = weft::cuda::alloc(max_bytes);
  void* reg_out = weft::cuda::alloc(max_bytes);
  const BufferHandle reg_in_id = comm.register_buffer(reg_in, max_bytes);
  const BufferHandle reg_out_id = comm.register_buffer(reg_out, max_bytes);
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaEvent_t t0, t1;
  CHECK_CUDA(cudaEventCreate(&t0));
  CHECK_CUDA(cudaEventCreate(&t1));

  if (rank == 0) {
    std::printf("# weft vs NCCL %d.%d.%d allreduce, %d GPUs on %d host(s), %s, sum, %s blocks, "
                "%d iters, %s\n",
                version / 10000, version / 100 % 100, version % 100, n, o.hosts, o.dtype.c_str(),
                std::getenv("WEFT_GPU_BLOCKS") ? std::getenv("WEFT_GPU_BLOCKS") : "default",
                o.iters, o.graph ? "CUDA graph" : "eager launches");
    std::printf("%12s %10s %10s %10s %10s %10s %10s %10s %7s\n", "bytes", "weft_us", "weft_busbw",
                "reg_us", "reg_busbw", "nccl_us", "nccl_busbw", "best/nccl", "wrong");
  }
  if (o.host_cost) {
    // Every rank runs the same calls (the collectives must match); rank 0 reports.
    const int calls = 2000;
    OpOptions on_stream;
    on_stream.stream = stream;
    auto settle = [&] { CHECK_CUDA(cudaStreamSynchronize(stream)); comm.barrier().wait(); };
    const size_t count = 2;
    settle();
    double weft_call = host_us_per_call(calls, [&] {
      comm.allreduce(in, out, count, type, ReduceOp::sum, on_stream);
    });
    settle();
    double nccl_call = host_us_per_call(calls, [&] {
      nccl.check(nccl.AllReduce(in, out, count, ntype, nsum, ncomm, stream), "ncclAllReduce");
    });
    settle();
    double memset_call = host_us_per_call(calls, [&] { CHECK_CUDA(cudaMemsetAsync(out, 0, 8, stream)); });
    settle();
    double record_call = host_us_per_call(calls, [&] { CHECK_CUDA(cudaEventRecord(t0, stream)); });
    settle();
    double attr_call = host_us_per_call(calls, [&] {
      cudaPointerAttributes attr{};
      CHECK_CUDA(cudaPointerGetAttributes(&attr, in));
    });
    double capture_call = host_us_per_call(calls, [&] {
      cudaStreamCaptureStatus st;
      CHECK_CUDA(cudaStreamIsCapturing(stream, &st));
    });
    settle();
    if (rank == 0)
      std::printf("# host us per call: weft allreduce 8 B %.2f, NCCL allreduce 8 B %.2f, cudaMemsetAsync %.2f, "
                  "cudaEventRecord %.2f, cudaPointerGetAttributes %.2f, cudaStreamIsCapturing %.2f\n",
                  weft_call, nccl_call, memset_call, record_call, attr_call, capture_call);
  }
  long total_wrong = 0;
  for (size_t bytes = std::max(parse_size(o.min), es); bytes <= max_bytes; bytes *= 2) {
    const size_t count = bytes / es;
    // Check both libraries once: rank r contributes r+1 (exact in bf16 up to 8 ranks).
    std::vector<uint16_t> h16(count);
    std::vector<float> h32(count);
    auto fill = [&](void* in) {
      float v = float(rank + 1);
      if (bf16) {
        uint32_t x;
        std::memcpy(&x, &v, 4);
        std::fill(h16.begin(), h16.end(), uint16_t(x >> 16));
        CHECK_CUDA(cudaMemcpy(in, h16.data(), bytes, cudaMemcpyHostToDevice));
      } else {
        std::fill(h32.begin(), h32.end(), v);
        CHECK_CUDA(cudaMemcpy(in, h32.data(), bytes, cudaMemcpyHostToDevice));
      }
    };
    auto count_wrong = [&](const void* out) {
      const float want = float(n * (n + 1) / 2);
      long wrong = 0;
      if (bf16) {
        CHECK_CUDA(cudaMemcpy(h16.data(), out, bytes, cudaMemcpyDeviceToHost));
        for (uint16_t x : h16) {
          uint32_t w = uint32_t(x) << 16;
          float f;
          std::memcpy(&f, &w, 4);
          wrong += f != want;
        }
      } else {
        CHECK_CUDA(cudaMemcpy(h32.data(), out, bytes, cudaMemcpyDeviceToHost));
        for (float f : h32) wrong += f != want;
      }
      return wrong;
    };
    fill(in);
    fill(reg_in);
    CHECK_CUDA(cudaMemset(out, 0, bytes));
    CHECK_CUDA(cudaMemset(reg_out, 0, bytes));
    CHECK_CUDA(cudaDeviceSynchronize());  // pageable copies may still be landing
    OpOptions on_stream;
    on_stream.stream = stream;
    comm.allreduce(in, out, count, type, ReduceOp::sum, on_stream).wait();
    long wrong = count_wrong(out);
    comm.allreduce(reg_in, reg_out, count, type, ReduceOp::sum, on_stream).wait();
    wrong += count_wrong(reg_out);
    CHECK_CUDA(cudaMemset(out, 0, bytes));
    CHECK_CUDA(cudaDeviceSynchronize());
    nccl.check(nccl.AllReduce(in, out, count, ntype, nsum, ncomm, stream), "ncclAllReduce");
    CHECK_CUDA(cudaStreamSynchronize(stream));
    wrong += count_wrong(out);
    total_wrong += wrong;

    // Eager: -n launches back to back. --graph: the -n launches captured
    // once into a CUDA graph, and the graph replayed (no host overhead).
    auto time_us = [&](auto&& launch) {
      for (int i = 0; i < o.warmup; ++i) launch();
      cudaGraphExec_t exec = nullptr;
      if (o.graph) {
        cudaGraph_t graph;
        CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
        for (int i = 0; i < o.iters; ++i) launch();
        CHECK_CUDA(cudaStreamEndCapture(stream, &graph));
        CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
        CHECK_CUDA(cudaGraphDestroy(graph));
        CHECK_CUDA(cudaGraphLaunch(exec, stream));  // warm-up replay
      }
      CHECK_CUDA(cudaEventRecord(t0, stream));
      if (o.graph) CHECK_CUDA(cudaGraphLaunch(exec, stream));
      else
        for (int i = 0; i < o.iters; ++i) launch();
      CHECK_CUDA(cudaEventRecord(t1, stream));
      CHECK_CUDA(cudaEventSynchronize(t1));
      if (exec) CHECK_CUDA(cudaGraphExecDestroy(exec));
      float ms = 0;
      CHECK_CUDA(cudaEventElapsedTime(&ms, t0, t1));
      return double(ms) * 1000.0 / o.iters;
    };
    if (bytes == std::max(parse_size(o.min), es) && rank == 0) {
      // The floor: the smallest GPU operation (an 8-byte memset) launched
      // the same way; no collective launched this way can take less.
      std::printf("# floor: one 8-byte cudaMemsetAsync launched the same way: %.2f us\n",
                  time_us([&] { CHECK_CUDA(cudaMemsetAsync(out, 0, 8, stream)); }));
    }
    double weft_us = time_us([&] { comm.allreduce(in, out, count, type, ReduceOp::sum, on_stream); });
    double reg_us = time_us([&] { comm.allreduce(reg_in, reg_out, count, type, ReduceOp::sum, on_stream); });
    double nccl_us = time_us([&] {
      nccl.check(nccl.AllReduce(in, out, count, ntype, nsum, ncomm, stream), "ncclAllReduce");
    });
    const double factor = 2.0 * (n - 1) / n;
    if (rank == 0)
      std::printf("%12zu %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %7ld\n", bytes, weft_us,
                  factor * bytes / weft_us / 1e3, reg_us, factor * bytes / reg_us / 1e3, nccl_us,
                  factor * bytes / nccl_us / 1e3, nccl_us / std::min(weft_us, reg_us), wrong);
  }
  if (rank == 0) std::printf("# wrong: %ld\n", total_wrong);
  nccl.CommDestroy(ncomm);
  // Everybody is done with the registered buffers before anyone releases them.
  comm.barrier().wait();
  cudaFree(in);
  cudaFree(out);
  comm.deregister(reg_in_id);
  comm.deregister(reg_out_id);
  weft::cuda::free(reg_in);
  weft::cuda::free(reg_out);
  return total_wrong == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"weft vs NCCL allreduce on one host's GPUs"};
  app.add_option("--np", o.np, "GPUs (one process each)");
  app.add_option("-b", o.min, "smallest size in bytes (K/M/G suffixes)");
  app.add_option("-e", o.max, "largest size in bytes");
  app.add_option("-d", o.dtype, "f32 or bf16");
  app.add_option("-n", o.iters, "timed iterations per size");
  app.add_option("-w", o.warmup, "warm-up iterations per size");
  app.add_flag("--graph", o.graph, "time CUDA-graph replays instead of eager launches");
  app.add_flag("--host-cost", o.host_cost, "first print host microseconds per call (see the file's comment)");
  app.add_option("--blocks", o.blocks, "weft thread blocks per kernel (0: WEFT_GPU_BLOCKS)");
  app.add_option("--hosts", o.hosts, "virtual hosts the GPUs are split into (see above)");
  app.add_option("--nccl-lib", o.nccl_lib, "path of libnccl.so.2");
  CLI11_PARSE(app, argc, argv);
  if (o.hosts < 1 || o.np % o.hosts != 0) {
    std::fprintf(stderr, "--hosts must divide --np\n");
    return 2;
  }
  if (o.hosts > 1 && o.graph) {
    std::fprintf(stderr, "--graph: cross-host operations cannot be captured in a CUDA graph\n");
    return 2;
  }
  try {
    if (const char* r = std::getenv("GPU_BENCH_RANK"))
      return run_rank(o, std::atoi(r), o.np, uint16_t(std::atoi(std::getenv("GPU_BENCH_PORT"))));
    auto server = weft::StoreServer::start({.host = "127.0.0.1", .port = 0});
    std::vector<pid_t> pids;
    for (int r = 0; r < o.np; ++r) {
      pid_t pid = fork();
      if (pid == 0) {
        setenv("GPU_BENCH_RANK", std::to_string(r).c_str(), 1);
        setenv("GPU_BENCH_PORT", std::to_string(server->port()).c_str(), 1);
        execv("/proc/self/exe", argv);
        _exit(127);
      }
      pids.push_back(pid);
    }
    int rc = 0;
    for (pid_t p : pids) {
      int status = 0;
      waitpid(p, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = 1;
    }
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_allreduce_bench: %s\n", e.what());
    return 1;
  }
}
