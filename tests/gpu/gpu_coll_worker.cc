// One rank of the GPU collective tests; gpu_coll_test.cc spawns one per GPU.
//
//   gpu_coll_worker correctness|graph|pipeline|peerlost|timeout
//   env: RANK, WORLD_SIZE, WEFT_TEST_STORE_PORT (the test hosts the store)
//
// correctness: every collective x dtype x op (reductions), several sizes,
// in and out of place, aligned and unaligned buffers, cudaMalloc and
// weft::cuda::alloc buffers; integer-valued data checked exactly (integer
// types with the kernels' wrap-around), avg against a float64 reference
// within a stated tolerance. Prints "rank R: C checks, W wrong" and exits 1
// when anything is wrong.
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "coll/gpu/gpu_comm.h"
#include "coll/gpu/kernel_args.h"
#include "check_cuda.h"
#include "host_values.h"
#include "weft/cuda.h"
#include "weft/error.h"
#include "weft/store.h"

namespace weft::test {
namespace {

bool is_unsigned(DataType t) { return t == DataType::u8 || t == DataType::u32 || t == DataType::u64; }

// Input element i of rank r for op `op`: small integers so that every float
// type represents sums and products exactly.
double gen(DataType t, ReduceOp op, int r, size_t i) {
  const bool uns = is_unsigned(t);
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::avg: {
      double v = static_cast<double>((r * 5 + i * 3) % 9);
      return uns ? v : v - 4;
    }
    case ReduceOp::prod: {
      double v = (r + i) % 3 == 0 ? 2 : 1;
      return (!uns && (r + 2 * i) % 5 == 0) ? -v : v;
    }
    case ReduceOp::min:
    case ReduceOp::max: {
      double v = static_cast<double>((r * 7 + i * 13) % 23);
      return uns ? v : v - 11;
    }
  }
  return 0;
}

// The reduction over ranks 0..n-1 of gen(t, op, r, i), as the kernels compute it.
double reference(DataType t, ReduceOp op, int n, size_t i) {
  if (is_floating(t)) {
    double acc = gen(t, op, 0, i);
    for (int r = 1; r < n; ++r) {
      double v = gen(t, op, r, i);
      if (op == ReduceOp::sum || op == ReduceOp::avg) acc += v;
      else if (op == ReduceOp::prod) acc *= v;
      else if (op == ReduceOp::min) acc = std::min(acc, v);
      else acc = std::max(acc, v);
    }
    return op == ReduceOp::avg ? acc / n : acc;
  }
  uint64_t acc = static_cast<uint64_t>(static_cast<int64_t>(gen(t, op, 0, i)));
  int64_t best = static_cast<int64_t>(gen(t, op, 0, i));
  for (int r = 1; r < n; ++r) {
    int64_t v = static_cast<int64_t>(gen(t, op, r, i));
    if (op == ReduceOp::sum || op == ReduceOp::avg) acc += static_cast<uint64_t>(v);
    else if (op == ReduceOp::prod) acc *= static_cast<uint64_t>(v);
    best = op == ReduceOp::min ? std::min(best, v) : std::max(best, v);
  }
  if (op == ReduceOp::min || op == ReduceOp::max) return static_cast<double>(best);
  int64_t wrapped = wrap_to(t, acc);
  if (op == ReduceOp::avg) return static_cast<double>(wrapped / n);
  return static_cast<double>(wrapped);
}

double tolerance(DataType t, ReduceOp op) {
  if (op != ReduceOp::avg || !is_floating(t)) return 0;  // exact
  switch (t) {
    case DataType::f16: return 1e-3;
    case DataType::bf16: return 8e-3;
    case DataType::f32: return 1e-6;
    default: return 1e-12;
  }
}

struct DeviceBuffer {
  void* base = nullptr;
  bool cumem = false;
  DeviceBuffer(size_t bytes, bool use_cumem) : cumem(use_cumem) {
    bytes = std::max<size_t>(bytes, 16);
    if (cumem) base = cuda::alloc(bytes);
    else CHECK_CUDA(cudaMalloc(&base, bytes));
  }
  ~DeviceBuffer() {
    if (cumem) cuda::free(base);
    else cudaFree(base);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

struct Runner {
  gpu::GpuComm& comm;
  int rank;
  int n;
  cudaStream_t stream;
  long checks = 0;
  long wrong = 0;
  int cases = 0;

  void expect(const std::string& what, DataType t, ReduceOp op, const std::vector<uint8_t>& got,
              size_t i_got, double want) {
    ++checks;
    double v = get(got, t, i_got);
    double tol = tolerance(t, op);
    bool ok = tol == 0 ? v == want : std::fabs(v - want) <= tol * std::max(1.0, std::fabs(want));
    if (!ok && wrong++ < 10)
      std::fprintf(stderr, "rank %d: %s: element %zu is %.9g, expected %.9g\n", rank, what.c_str(),
                   i_got, v, want);
  }

  // Runs one collective case end to end and checks this rank's output.
  void run(gpu::CollKind kind, DataType t, ReduceOp op, size_t count, bool in_place,
           size_t misalign, int root) {
    const size_t es = size_of(t);
    const bool per_rank_in = kind == gpu::CollKind::reduce_scatter || kind == gpu::CollKind::alltoall;
    const bool per_rank_out = kind == gpu::CollKind::allgather || kind == gpu::CollKind::alltoall;
    const size_t in_elems = per_rank_in ? count * n : count;
    const size_t out_elems = per_rank_out ? count * n : count;
    const size_t span = std::max(in_elems, out_elems) + misalign;
    const bool cumem = (++cases % 2) == 0;
    DeviceBuffer in_buf(span * es, cumem), out_buf(span * es, !cumem);
    char* out = static_cast<char*>(out_buf.base) + misalign * es;
    char* in = in_place ? out : static_cast<char*>(in_buf.base) + misalign * es;
    if (in_place && kind == gpu::CollKind::allgather) in = out + size_t(rank) * count * es;
    char* out_ptr = out;
    if (in_place && kind == gpu::CollKind::reduce_scatter) out_ptr = in + size_t(rank) * count * es;

    std::vector<uint8_t> host_in(in_elems * es);
    for (size_t i = 0; i < in_elems; ++i) put(host_in, t, i, gen(t, op, rank, i));
    CHECK_CUDA(cudaMemset(out_buf.base, 0xCD, span * es));  // poison: unwritten output shows
    CHECK_CUDA(cudaMemcpy(in, host_in.data(), host_in.size(), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaDeviceSynchronize());  // pageable H2D returns before the DMA lands
    // A pageable-memory cudaMemcpy may return before its DMA lands, and the
    // collective runs on a non-blocking stream: make the input complete.
    CHECK_CUDA(cudaDeviceSynchronize());

    gpu::GpuOp work;
    switch (kind) {
      case gpu::CollKind::allreduce: work = comm.allreduce(in, out_ptr, count, t, op, stream); break;
      case gpu::CollKind::reduce: work = comm.reduce(in, out_ptr, count, t, op, root, stream); break;
      case gpu::CollKind::reduce_scatter: work = comm.reduce_scatter(in, out_ptr, count, t, op, stream); break;
      case gpu::CollKind::broadcast: work = comm.broadcast(in, out_ptr, count, t, root, stream); break;
      case gpu::CollKind::allgather: work = comm.allgather(in, out_ptr, count, t, stream); break;
      case gpu::CollKind::alltoall: work = comm.alltoall(in, out_ptr, count, t, stream); break;
    }
    work.wait();
    std::vector<uint8_t> got(out_elems * es);
    const char* read_from = kind == gpu::CollKind::reduce_scatter ? out_ptr : out;
    CHECK_CUDA(cudaMemcpy(got.data(), read_from, got.size(), cudaMemcpyDeviceToHost));

    const std::string what = work.describe() + (in_place ? " in place" : "") +
                             (misalign ? " unaligned" : "") + (cumem ? " (out: cudaMalloc)" : " (out: cuMem)");
    switch (kind) {
      case gpu::CollKind::allreduce:
        for (size_t i = 0; i < count; ++i) expect(what, t, op, got, i, reference(t, op, n, i));
        break;
      case gpu::CollKind::reduce:
        if (rank == root)
          for (size_t i = 0; i < count; ++i) expect(what, t, op, got, i, reference(t, op, n, i));
        break;
      case gpu::CollKind::reduce_scatter:
        for (size_t i = 0; i < count; ++i)
          expect(what, t, op, got, i, reference(t, op, n, size_t(rank) * count + i));
        break;
      case gpu::CollKind::broadcast:
        for (size_t i = 0; i < count; ++i) expect(what, t, op, got, i, gen(t, op, root, i));
        break;
      case gpu::CollKind::allgather:
        for (int p = 0; p < n; ++p)
          for (size_t i = 0; i < count; ++i) expect(what, t, op, got, p * count + i, gen(t, op, p, i));
        break;
      case gpu::CollKind::alltoall:
        for (int p = 0; p < n; ++p)
          for (size_t i = 0; i < count; ++i)
            expect(what, t, op, got, p * count + i, gen(t, op, p, size_t(rank) * count + i));
        break;
    }
  }
};

int correctness(gpu::GpuComm& comm, int rank, int n) {
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  Runner r{comm, rank, n, stream};
  const size_t small_sizes[] = {1, 7, 1000, 65537};
  using K = gpu::CollKind;
  for (K kind : {K::allreduce, K::reduce, K::reduce_scatter}) {
    for (DataType t : kAllDataTypes)
      for (ReduceOp op : kAllReduceOps)
        for (size_t count : small_sizes) r.run(kind, t, op, count, false, 0, n - 1);
    // Sizes that cross chunk boundaries, in place, unaligned.
    r.run(kind, DataType::f32, ReduceOp::sum, 3'000'003, false, 0, 0);
    r.run(kind, DataType::bf16, ReduceOp::sum, 5'000'001, true, 0, 0);
    r.run(kind, DataType::u8, ReduceOp::max, 9'000'011, false, 1, n / 2);
    r.run(kind, DataType::f16, ReduceOp::avg, 1'000'003, true, 1, 0);
    r.run(kind, DataType::i64, ReduceOp::prod, 2'000'001, false, 0, 0);
  }
  for (K kind : {K::broadcast, K::allgather, K::alltoall}) {
    for (DataType t : {DataType::u8, DataType::f32, DataType::bf16, DataType::f64})
      for (size_t count : small_sizes)
        for (int root : {0, n - 1}) r.run(kind, t, ReduceOp::sum, count, false, 0, root);
    r.run(kind, DataType::f32, ReduceOp::sum, 3'000'003, kind != K::alltoall, 0, 0);
    r.run(kind, DataType::u8, ReduceOp::sum, 9'000'011, false, 1, n - 1);
  }
  // Point to point: a ring shift, even ranks send first (no deadlock).
  for (size_t count : {size_t(1), size_t(1000), size_t(3'000'003)}) {
    const int next = (rank + 1) % n, prev = (rank + n - 1) % n;
    if (n == 1) break;
    DeviceBuffer send(count * 4, false), recv(count * 4, true);
    std::vector<uint8_t> host(count * 4);
    for (size_t i = 0; i < count; ++i) put(host, DataType::i32, i, double(rank * 1000003 + i));
    CHECK_CUDA(cudaMemcpy(send.base, host.data(), host.size(), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaDeviceSynchronize());  // pageable H2D returns before the DMA lands
    CHECK_CUDA(cudaDeviceSynchronize());
    gpu::GpuOp a, b;
    if (rank % 2 == 0) {
      a = comm.send(send.base, count, DataType::i32, next, stream);
      b = comm.recv(recv.base, count, DataType::i32, prev, stream);
    } else {
      b = comm.recv(recv.base, count, DataType::i32, prev, stream);
      a = comm.send(send.base, count, DataType::i32, next, stream);
    }
    a.wait();
    b.wait();
    CHECK_CUDA(cudaMemcpy(host.data(), recv.base, host.size(), cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < count; ++i)
      r.expect(b.describe(), DataType::i32, ReduceOp::sum, host, i, double(prev * 1000003 + i));
  }
  // Bad input: host memory is refused with a clear error.
  {
    std::vector<float> host_buf(16);
    ++r.checks;
    try {
      comm.allreduce(host_buf.data(), host_buf.data(), 16, DataType::f32, ReduceOp::sum, stream);
      ++r.wrong;
      std::fprintf(stderr, "rank %d: host memory was accepted\n", rank);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::InvalidArgument ||
          std::string(e.message()).find("is host memory") == std::string::npos)
        ++r.wrong, std::fprintf(stderr, "rank %d: wrong error for host memory: %s\n", rank, e.what());
    }
  }
  std::printf("rank %d: %ld checks, %ld wrong (%d collective cases)\n", rank, r.checks, r.wrong, r.cases);
  return r.wrong == 0 ? 0 : 1;
}

// Captures allreduce + allgather in a CUDA graph and replays it 100 times
// with fresh inputs each time: device-side epochs must keep replays correct.
int graph(gpu::GpuComm& comm, int rank, int n) {
  const size_t count = 4099;
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  DeviceBuffer in(count * 4, true), out(count * 4, false), gathered(count * 4 * n, false);
  cudaGraph_t graph_def;
  CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  comm.allreduce(in.base, out.base, count, DataType::f32, ReduceOp::sum, stream);
  comm.allgather(out.base, gathered.base, count, DataType::f32, stream);
  CHECK_CUDA(cudaStreamEndCapture(stream, &graph_def));
  cudaGraphExec_t exec;
  CHECK_CUDA(cudaGraphInstantiate(&exec, graph_def, 0));
  long wrong = 0;
  std::vector<float> host(count), result(count * n);
  for (int it = 0; it < 100; ++it) {
    for (size_t i = 0; i < count; ++i) host[i] = float(rank + it + int(i % 5));
    CHECK_CUDA(cudaMemcpyAsync(in.base, host.data(), count * 4, cudaMemcpyHostToDevice, stream));
    CHECK_CUDA(cudaGraphLaunch(exec, stream));
    CHECK_CUDA(cudaMemcpyAsync(result.data(), gathered.base, result.size() * 4, cudaMemcpyDeviceToHost, stream));
    CHECK_CUDA(cudaStreamSynchronize(stream));
    for (int p = 0; p < n; ++p)
      for (size_t i = 0; i < count; ++i) {
        float want = float(n * (it + int(i % 5)) + n * (n - 1) / 2);
        if (result[p * count + i] != want && wrong++ < 5)
          std::fprintf(stderr, "rank %d replay %d: block %d element %zu is %g, expected %g\n", rank,
                       it, p, i, result[p * count + i], want);
      }
  }
  // Eager operations interleave correctly with replays (shared epochs).
  DeviceBuffer e_in(count * 4, false), e_out(count * 4, false);
  for (size_t i = 0; i < count; ++i) host[i] = float(rank);
  CHECK_CUDA(cudaMemcpy(e_in.base, host.data(), count * 4, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaDeviceSynchronize());  // pageable H2D returns before the DMA lands
  CHECK_CUDA(cudaDeviceSynchronize());
  comm.allreduce(e_in.base, e_out.base, count, DataType::f32, ReduceOp::max, stream).wait();
  CHECK_CUDA(cudaMemcpy(host.data(), e_out.base, count * 4, cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < count; ++i)
    if (host[i] != float(n - 1) && wrong++ < 5) std::fprintf(stderr, "rank %d: eager after graph wrong\n", rank);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph_def);
  std::printf("rank %d: graph: 100 replays, %ld wrong\n", rank, wrong);
  return wrong == 0 ? 0 : 1;
}

// Small operations of every LL kind and of changing sizes, enqueued back to
// back on one stream with no host synchronisation, with larger (non-LL)
// allreduces between some of them; everything checked at the end. LL grids
// follow the size (8 B is one warp, 64 KiB many blocks) and successive LL
// kernels may overlap their launch (programmatic dependent launch), so this
// is where a line left by an earlier size could pass for a current one, or
// an epoch could advance before every block read it.
int pipeline(gpu::GpuComm& comm, int rank, int n) {
  using K = gpu::CollKind;
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  // f32 elements (per rank): 131072 and 70001 are LL only where WEFT_GPU_LL_MAX_BYTES allows.
  const size_t counts[] = {2, 16384, 1000, 1, 32768, 3, 131072, 16383, 12345, 70001};
  const K kinds[] = {K::allreduce, K::allgather, K::reduce_scatter};
  const size_t big = 1 << 19;  // 2 MiB of f32: not LL
  const int ops = 96;
  struct Op {
    K kind;
    size_t count;  // 0: the big allreduce
    std::unique_ptr<DeviceBuffer> in, out;
  };
  // Element i of op k's input on rank r: small integers, exact in f32.
  auto value = [](int k, int r, size_t i) { return float((k * 7 + r * 3 + int(i % 11)) % 13); };
  std::vector<Op> plan;
  for (int k = 0; k < ops; ++k) {
    Op op;
    op.kind = k % 7 == 6 ? K::allreduce : kinds[k % 3];
    op.count = k % 7 == 6 ? 0 : counts[size_t(k / 3) % std::size(counts)];
    const size_t c = op.count ? op.count : big;
    const size_t in_elems = op.kind == K::reduce_scatter ? c * n : c;
    const size_t out_elems = op.kind == K::allgather ? c * n : c;
    op.in = std::make_unique<DeviceBuffer>(in_elems * 4, k % 2 == 0);
    op.out = std::make_unique<DeviceBuffer>(out_elems * 4, k % 2 == 1);
    std::vector<float> host(in_elems);
    for (size_t i = 0; i < in_elems; ++i) host[i] = value(k, rank, i);
    CHECK_CUDA(cudaMemcpy(op.in->base, host.data(), in_elems * 4, cudaMemcpyHostToDevice));
    plan.push_back(std::move(op));
  }
  CHECK_CUDA(cudaDeviceSynchronize());
  for (Op& op : plan) {
    const size_t c = op.count ? op.count : big;
    if (op.kind == K::allreduce) comm.allreduce(op.in->base, op.out->base, c, DataType::f32, ReduceOp::sum, stream);
    if (op.kind == K::allgather) comm.allgather(op.in->base, op.out->base, c, DataType::f32, stream);
    if (op.kind == K::reduce_scatter)
      comm.reduce_scatter(op.in->base, op.out->base, c, DataType::f32, ReduceOp::sum, stream);
  }
  CHECK_CUDA(cudaStreamSynchronize(stream));
  long wrong = 0, checks = 0;
  for (int k = 0; k < ops; ++k) {
    const Op& op = plan[size_t(k)];
    const size_t c = op.count ? op.count : big;
    const size_t out_elems = op.kind == K::allgather ? c * n : c;
    std::vector<float> got(out_elems);
    CHECK_CUDA(cudaMemcpy(got.data(), op.out->base, out_elems * 4, cudaMemcpyDeviceToHost));
    for (size_t j = 0; j < out_elems; ++j) {
      float want = 0;
      if (op.kind == K::allgather) want = value(k, int(j / c), j % c);
      else {
        const size_t i = op.kind == K::reduce_scatter ? size_t(rank) * c + j : j;
        for (int r = 0; r < n; ++r) want += value(k, r, i);
      }
      ++checks;
      if (got[j] != want && wrong++ < 10)
        std::fprintf(stderr, "rank %d: op %d (kind %d, %zu elements): element %zu is %g, expected %g\n", rank, k,
                     int(op.kind), c, j, got[j], want);
    }
  }
  std::printf("rank %d: pipeline: %d operations, %ld checks, %ld wrong\n", rank, ops, checks, wrong);
  return wrong == 0 ? 0 : 1;
}

// The last rank dies (SIGKILL-like _exit) while the others run a 64 MiB
// allreduce: they must get PeerLost naming it within seconds, not hang.
// timeout mode: the last rank stalls instead; the others get Timeout.
int fault(gpu::GpuComm& comm, Store& store, int rank, int n, bool kill) {
  const size_t count = 16 << 20;
  DeviceBuffer buf(count * 4, false);
  store.set("fault/ready/" + std::to_string(rank), std::string_view("1"));
  std::vector<std::string> keys;
  for (int p = 0; p < n; ++p) keys.push_back("fault/ready/" + std::to_string(p));
  store.wait(keys);
  if (rank == n - 1) {
    if (kill) _exit(0);  // vanish without any goodbye (the OS closes its sockets)
    std::this_thread::sleep_for(std::chrono::seconds(6));
    _exit(0);
  }
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  auto start = std::chrono::steady_clock::now();
  try {
    comm.allreduce(buf.base, buf.base, count, DataType::f32, ReduceOp::sum, stream).wait();
    std::fprintf(stderr, "rank %d: allreduce succeeded without rank %d\n", rank, n - 1);
    return 1;
  } catch (const Error& e) {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const ErrorCode want = kill ? ErrorCode::PeerLost : ErrorCode::Timeout;
    const std::string name = kill ? "peer rank " + std::to_string(n - 1) : "did not complete within";
    bool ok = e.code() == want && e.message().find(name) != std::string::npos &&
              e.message().find("allreduce #") != std::string::npos && s < 10;
    std::printf("rank %d: %s after %.2f s: %s\n", rank, ok ? "ok" : "WRONG", s, e.what());
    // Later operations fail fast with the same root cause.
    try {
      comm.allreduce(buf.base, buf.base, 16, DataType::f32, ReduceOp::sum, stream);
      std::printf("rank %d: WRONG: a later operation was accepted\n", rank);
      ok = false;
    } catch (const Error& later) {
      ok = ok && later.code() == want;
    }
    return ok ? 0 : 1;
  }
}

}  // namespace
}  // namespace weft::test

int main(int argc, char** argv) {
  using namespace weft;
  if (argc < 2) {
    std::fprintf(stderr, "usage: gpu_coll_worker correctness|graph|pipeline|peerlost|timeout\n");
    return 2;
  }
  const std::string mode = argv[1];
  const int rank = std::atoi(std::getenv("RANK"));
  const int n = std::atoi(std::getenv("WORLD_SIZE"));
  const uint16_t port = static_cast<uint16_t>(std::atoi(std::getenv("WEFT_TEST_STORE_PORT")));
  try {
    if (cudaSetDevice(rank) != cudaSuccess) throw std::runtime_error("cudaSetDevice failed");
    auto tcp = TcpStore::connect({.host = "127.0.0.1", .port = port});
    PrefixStore store(mode, std::shared_ptr<Store>(std::move(tcp)));
    gpu::GpuCommConfig config;
    config.device = rank;
    config.name = "comm";
    if (mode == "timeout") config.timeout = std::chrono::seconds(2);
    gpu::GpuComm comm(store, rank, n, config);
    if (mode == "correctness") return test::correctness(comm, rank, n);
    if (mode == "graph") return test::graph(comm, rank, n);
    if (mode == "pipeline") return test::pipeline(comm, rank, n);
    if (mode == "peerlost") return test::fault(comm, store, rank, n, true);
    if (mode == "timeout") return test::fault(comm, store, rank, n, false);
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
    return 1;
  }
}
