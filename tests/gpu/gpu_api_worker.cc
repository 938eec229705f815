// One rank of the public-API GPU tests (gpu_api_test.cc spawns one per GPU):
// weft::Communicator bound to a CUDA device, operations on the caller's
// stream, Work, register_buffer/deregister and the zero-copy allreduce.
//
//   gpu_api_worker api|zero_copy_mismatch|multihost|multihost_peerlost
//   env: RANK, WORLD_SIZE, WEFT_TEST_STORE_PORT (the test hosts the store);
//   multihost*: WEFT_HOST_ID per rank (virtual hosts), and ranks may share a
//   GPU (rank % GPUs) so that 2 GPUs can hold 2 hosts x 2 ranks
//
// Data are small integers, so every sum is exact in every dtype used and
// results are compared exactly against a host reference. Prints
// "rank R: C checks, W wrong" and exits 1 when anything is wrong.
#include <cuda_runtime_api.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "check_cuda.h"
#include "host_values.h"
#include "weft/communicator.h"
#include "weft/cuda.h"
#include "weft/error.h"
#include "weft/store.h"

namespace weft::test {
namespace {

double gen(int r, size_t i) { return static_cast<double>((r * 5 + i * 3) % 9) - 4; }

struct Ctx {
  Communicator& comm;
  int rank, n;
  cudaStream_t stream;
  long checks = 0, wrong = 0;

  OpOptions on_stream() const {
    OpOptions o;
    o.stream = stream;
    return o;
  }
  void upload(void* dev, const std::vector<uint8_t>& host) {
    CHECK_CUDA(cudaMemcpy(dev, host.data(), host.size(), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaDeviceSynchronize());  // pageable H2D returns before the DMA lands
    // From pageable memory cudaMemcpy may return before the DMA has landed,
    // and our collectives run on a non-blocking stream: wait for it.
    CHECK_CUDA(cudaDeviceSynchronize());
  }
  std::vector<uint8_t> download(const void* dev, size_t bytes) {
    std::vector<uint8_t> host(bytes);
    CHECK_CUDA(cudaMemcpy(host.data(), dev, bytes, cudaMemcpyDeviceToHost));
    return host;
  }
  void expect(const std::string& what, double got, double want, size_t i) {
    ++checks;
    if (got != want && wrong++ < 10)
      std::fprintf(stderr, "rank %d: %s: element %zu is %g, expected %g\n", rank, what.c_str(), i,
                   got, want);
  }
  void expect_true(const std::string& what, bool ok) {
    ++checks;
    if (!ok && wrong++ < 10) std::fprintf(stderr, "rank %d: %s\n", rank, what.c_str());
  }
};

// Input of rank r, element i, as `type` bytes.
std::vector<uint8_t> input(DataType type, int r, size_t count) {
  std::vector<uint8_t> h(count * size_of(type));
  for (size_t i = 0; i < count; ++i) put(h, type, i, gen(r, i));
  return h;
}

double sum_over_ranks(int n, size_t i) {
  double s = 0;
  for (int r = 0; r < n; ++r) s += gen(r, i);
  return s;
}

// Allreduce through the public API: `registered` buffers come from
// weft::cuda::alloc and are registered (zero-copy from
// WEFT_GPU_ZERO_COPY_MIN_BYTES on); otherwise cudaMalloc, staged.
void allreduce_case(Ctx& c, DataType type, size_t count, bool registered, bool in_place) {
  const size_t bytes = count * size_of(type);
  void* in = nullptr;
  void* out = nullptr;
  if (registered) {
    in = cuda::alloc(bytes);
    out = in_place ? in : cuda::alloc(bytes);
  } else {
    CHECK_CUDA(cudaMalloc(&in, bytes));
    out = in;
    if (!in_place) CHECK_CUDA(cudaMalloc(&out, bytes));
  }
  BufferHandle hin, hout;
  if (registered) {
    hin = c.comm.register_buffer(in, bytes);
    if (!in_place) hout = c.comm.register_buffer(out, bytes);
  }
  c.upload(in, input(type, c.rank, count));
  // Run it twice: the second run reuses registrations and alternates epochs.
  for (int rep = 0; rep < 2; ++rep) {
    if (rep == 1) c.upload(in, input(type, c.rank, count));
    Work w = c.comm.allreduce(in, out, count, type, ReduceOp::sum, c.on_stream());
    w.wait();
    c.expect_true(str("allreduce Work completed: ", w.describe()), w.completed() && w.test());
    auto got = c.download(out, bytes);
    const std::string what = str("allreduce ", count, " x ", to_string(type), registered ? " registered" : "",
                                 in_place ? " in place" : "", " rep ", rep);
    for (size_t i = 0; i < count; i += (count > 4096 ? 97 : 1))
      c.expect(what, get(got, type, i), sum_over_ranks(c.n, i), i);
    c.expect(what + " (last)", get(got, type, count - 1), sum_over_ranks(c.n, count - 1), count - 1);
  }
  if (registered) {
    c.comm.deregister(hin);
    if (!in_place) c.comm.deregister(hout);
    cuda::free(in);
    if (!in_place) cuda::free(out);
  } else {
    cudaFree(in);
    if (!in_place) cudaFree(out);
  }
}

// `registered`: weft::cuda::alloc buffers registered with the communicator,
// so allgather and reduce_scatter run zero-copy (from
// WEFT_GPU_ZERO_COPY_MIN_BYTES); otherwise cudaMalloc, staged.
void other_collectives(Ctx& c, size_t count, bool registered) {
  const std::string how = str(" (", count, " per rank", registered ? ", registered)" : ")");
  const DataType t = DataType::i32;
  const size_t esz = size_of(t);
  const size_t bytes = count * esz * c.n;
  void *in, *out;
  BufferHandle hin, hout;
  if (registered) {
    in = cuda::alloc(bytes);
    out = cuda::alloc(bytes);
    hin = c.comm.register_buffer(in, bytes);
    hout = c.comm.register_buffer(out, bytes);
  } else {
    CHECK_CUDA(cudaMalloc(&in, bytes));
    CHECK_CUDA(cudaMalloc(&out, bytes));
  }

  // allgather: block r of out holds rank r's input
  c.upload(in, input(t, c.rank, count));
  c.comm.allgather(in, out, count, t, c.on_stream()).wait();
  auto got = c.download(out, count * esz * c.n);
  for (int r = 0; r < c.n; ++r)
    for (size_t i = 0; i < count; i += 13) c.expect(str("allgather block ", r, how), get(got, t, r * count + i), gen(r, i), i);

  // reduce_scatter: rank r gets the sum of block r; rank q's block r element i = gen(q, r*count+i)
  c.upload(in, input(t, c.rank, count * c.n));
  c.comm.reduce_scatter(in, out, count, t, ReduceOp::sum, c.on_stream()).wait();
  got = c.download(out, count * esz);
  for (size_t i = 0; i < count; i += 13)
    c.expect("reduce_scatter" + how, get(got, t, i), sum_over_ranks(c.n, c.rank * count + i), i);

  // broadcast from the last rank
  const int root = c.n - 1;
  c.upload(in, input(t, c.rank, count));
  c.comm.broadcast(in, count, t, root, c.on_stream()).wait();
  got = c.download(in, count * esz);
  for (size_t i = 0; i < count; i += 13) c.expect("broadcast" + how, get(got, t, i), gen(root, i), i);

  // send/recv around the ring: rank r sends its input to r+1
  c.upload(in, input(t, c.rank, count));
  const int to = (c.rank + 1) % c.n, from = (c.rank + c.n - 1) % c.n;
  cudaStream_t s2;
  CHECK_CUDA(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  OpOptions recv_opts;
  recv_opts.stream = s2;
  Work r = c.comm.recv(out, count, t, from, 0, recv_opts);
  Work s = c.comm.send(in, count, t, to, 0, c.on_stream());
  s.wait();
  r.wait();
  got = c.download(out, count * esz);
  for (size_t i = 0; i < count; i += 13) c.expect("recv" + how, get(got, t, i), gen(from, i), i);
  CHECK_CUDA(cudaStreamDestroy(s2));

  // gather is not on the GPU yet: exact error
  try {
    c.comm.gather(in, out, count, t, 0, c.on_stream());
    c.expect_true("gather on a CUDA communicator should throw Unsupported", false);
  } catch (const Error& e) {
    c.expect_true(str("gather error: ", e.what()),
                  e.code() == ErrorCode::Unsupported &&
                      std::string(e.what()).find("gather on a CUDA communicator is not implemented") !=
                          std::string::npos);
  }
  // host barrier still works
  c.comm.barrier().wait();
  if (registered) {
    c.comm.deregister(hin);
    c.comm.deregister(hout);
    cuda::free(in);
    cuda::free(out);
  } else {
    cudaFree(in);
    cudaFree(out);
  }
}

// alltoall (block j of rank q's input element i = gen(q, j*count+i)) and
// reduce to the last rank.
void alltoall_and_reduce(Ctx& c, size_t count) {
  const DataType t = DataType::i32;
  const size_t esz = size_of(t), bytes = count * esz * c.n;
  void *in, *out;
  CHECK_CUDA(cudaMalloc(&in, bytes));
  CHECK_CUDA(cudaMalloc(&out, bytes));
  c.upload(in, input(t, c.rank, count * c.n));
  c.comm.alltoall(in, out, count, t, c.on_stream()).wait();
  auto got = c.download(out, bytes);
  for (int q = 0; q < c.n; ++q)
    for (size_t i = 0; i < count; i += 13)
      c.expect(str("alltoall from ", q), get(got, t, q * count + i), gen(q, c.rank * count + i), i);
  const int root = c.n - 1;
  c.upload(in, input(t, c.rank, count));
  c.comm.reduce(in, out, count, t, ReduceOp::sum, root, c.on_stream()).wait();
  if (c.rank == root) {
    got = c.download(out, count * esz);
    for (size_t i = 0; i < count; i += 13) c.expect("reduce", get(got, t, i), sum_over_ranks(c.n, i), i);
  }
  cudaFree(in);
  cudaFree(out);
}

// Zero-copy allreduce captured in a CUDA graph and replayed 100 times.
void graph_case(Ctx& c) {
  const size_t count = 1 << 20;
  const DataType t = DataType::f32;
  const size_t bytes = count * size_of(t);
  void* in = cuda::alloc(bytes);
  void* out = cuda::alloc(bytes);
  auto hin = c.comm.register_buffer(in, bytes);
  auto hout = c.comm.register_buffer(out, bytes);
  c.upload(in, input(t, c.rank, count));
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CHECK_CUDA(cudaStreamBeginCapture(c.stream, cudaStreamCaptureModeThreadLocal));
  c.comm.allreduce(in, out, count, t, ReduceOp::sum, c.on_stream());
  CHECK_CUDA(cudaStreamEndCapture(c.stream, &graph));
  CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  for (int i = 0; i < 100; ++i) {
    CHECK_CUDA(cudaMemsetAsync(out, 0, bytes, c.stream));
    CHECK_CUDA(cudaGraphLaunch(exec, c.stream));
  }
  CHECK_CUDA(cudaStreamSynchronize(c.stream));
  auto got = c.download(out, bytes);
  for (size_t i = 0; i < count; i += 101) c.expect("graph replay", get(got, t, i), sum_over_ranks(c.n, i), i);
  CHECK_CUDA(cudaGraphExecDestroy(exec));
  CHECK_CUDA(cudaGraphDestroy(graph));
  c.comm.deregister(hin);
  c.comm.deregister(hout);
  // A handle already released is an error, not a silent no-op.
  try {
    c.comm.deregister(hin);
    c.expect_true("second deregister should throw", false);
  } catch (const Error& e) {
    c.expect_true(str("deregister error: ", e.what()), e.code() == ErrorCode::InvalidArgument);
  }
  cuda::free(in);
  cuda::free(out);
}

int run_api(Communicator& comm, int rank, int n, cudaStream_t stream) {
  Ctx c{comm, rank, n, stream};
  for (DataType t : {DataType::f32, DataType::bf16, DataType::i32})
    for (size_t count : {size_t(1), size_t(1000), size_t(65537), size_t(300000), size_t(4) << 20})
      for (bool reg : {false, true})
        for (bool in_place : {false, true}) allreduce_case(c, t, count, reg, in_place);
  // Per-rank blocks: odd (unaligned tails) and 16-byte multiples.
  // 1 Mi elements per rank: from 8 MiB of output, above every zero-copy
  // threshold of the measured table (coll/gpu/thresholds.cc).
  for (size_t count : {size_t(70001), size_t(131072), size_t(1) << 20})
    for (bool reg : {false, true}) other_collectives(c, count, reg);
  graph_case(c);
  std::printf("rank %d: %ld checks, %ld wrong\n", rank, c.checks, c.wrong);
  return c.wrong == 0 ? 0 : 1;
}

// Rank 0 registers its buffers, the others do not: every rank must fail
// with Mismatch instead of waiting for flags that never come.
int run_mismatch(Communicator& comm, int rank, cudaStream_t stream) {
  const size_t count = 1 << 20;
  const size_t bytes = count * 4;
  void* buf = cuda::alloc(bytes);
  if (rank == 0) comm.register_buffer(buf, bytes);
  OpOptions o;
  o.stream = stream;
  try {
    comm.allreduce(buf, buf, count, DataType::f32, ReduceOp::sum, o).wait();
    std::printf("rank %d: allreduce succeeded but should have failed\n", rank);
    return 1;
  } catch (const Error& e) {
    const bool ok = e.code() == ErrorCode::Mismatch &&
                    std::string(e.what()).find("ran different GPU algorithms") != std::string::npos;
    std::printf("rank %d: %s: %s\n", rank, ok ? "got" : "WRONG error", e.what());
    return ok ? 0 : 1;
  }
}

// Ranks on several (virtual) hosts: every collective through the staged
// and hierarchical paths, checked like the one-host cases; capture refused.
int run_multihost(Communicator& comm, int rank, int n, cudaStream_t stream) {
  Ctx c{comm, rank, n, stream};
  for (DataType t : {DataType::f32, DataType::bf16, DataType::i32})
    for (size_t count : {size_t(1), size_t(1000), size_t(65537), size_t(300000), size_t(4) << 20})
      for (bool in_place : {false, true}) allreduce_case(c, t, count, false, in_place);
  for (size_t count : {size_t(1), size_t(70001), size_t(131072)}) other_collectives(c, count, false);
  alltoall_and_reduce(c, 70001);
  void* buf = nullptr;
  CHECK_CUDA(cudaMalloc(&buf, 4096));
  CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    comm.allreduce(buf, buf, 1024, DataType::f32, ReduceOp::sum, c.on_stream());
    c.expect_true("a captured cross-host allreduce should throw Unsupported", false);
  } catch (const Error& e) {
    c.expect_true(str("capture error: ", e.what()),
                  e.code() == ErrorCode::Unsupported &&
                      std::string(e.what()).find("cannot be captured") != std::string::npos);
  }
  cudaGraph_t graph;
  cudaStreamEndCapture(stream, &graph);
  if (graph) cudaGraphDestroy(graph);
  cudaGetLastError();
  cudaFree(buf);
  comm.barrier().wait();
  std::printf("rank %d: %ld checks, %ld wrong\n", rank, c.checks, c.wrong);
  return c.wrong == 0 ? 0 : 1;
}

// Rank 1 exits during the second of a series of 64 MiB allreduces: every
// other rank must get PeerLost naming a peer, on either side of the hosts.
int run_multihost_peerlost(Communicator& comm, int rank, cudaStream_t stream) {
  const size_t count = 16 << 20;
  void* buf = nullptr;
  CHECK_CUDA(cudaMalloc(&buf, count * 4));
  OpOptions o;
  o.stream = stream;
  try {
    for (int iter = 0; iter < 50; ++iter) {
      if (iter == 1 && rank == 1) _exit(9);
      comm.allreduce(buf, buf, count, DataType::f32, ReduceOp::sum, o).wait();
    }
    std::printf("rank %d: no failure after rank 1 exited\n", rank);
    return 1;
  } catch (const Error& e) {
    const bool ok = e.code() == ErrorCode::PeerLost &&
                    std::string(e.what()).find("peer rank") != std::string::npos;
    std::printf("rank %d: %s: %s\n", rank, ok ? "got" : "WRONG error", e.what());
    return ok ? 0 : 1;
  }
}

int main_impl(const std::string& mode) {
  const int rank = std::atoi(std::getenv("RANK"));
  const int n = std::atoi(std::getenv("WORLD_SIZE"));
  int gpus = 0;
  CHECK_CUDA(cudaGetDeviceCount(&gpus));
  const int device = rank % gpus;
  CHECK_CUDA(cudaSetDevice(device));
  TcpStoreOptions so;
  so.host = "127.0.0.1";
  so.port = static_cast<uint16_t>(std::atoi(std::getenv("WEFT_TEST_STORE_PORT")));
  auto store = TcpStore::connect(so);
  CommOptions options;
  options.device = Device::cuda(device);
  options.timeout = std::chrono::seconds(30);
  Communicator comm = Communicator::init(*store, rank, n, options);
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  if (mode == "api") return run_api(comm, rank, n, stream);
  if (mode == "zero_copy_mismatch") return run_mismatch(comm, rank, stream);
  if (mode == "multihost") return run_multihost(comm, rank, n, stream);
  if (mode == "multihost_peerlost") return run_multihost_peerlost(comm, rank, stream);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}

}  // namespace
}  // namespace weft::test

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  try {
    return weft::test::main_impl(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %s: %s\n", std::getenv("RANK"), e.what());
    return 1;
  }
}
