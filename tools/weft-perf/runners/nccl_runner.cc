#include "runners/nccl_runner.h"

#include <cstdlib>
#include <cstring>

#include "runners/cuda_support.h"
#include "runners/nccl_api.h"
#include "weft/communicator.h"
#include "weft/error.h"
#include "weft/store.h"

namespace weft::perf {
namespace {

int env_int(const char* name) {
  const char* v = std::getenv(name);
  WEFT_REQUIRE(v != nullptr && *v != '\0', "nccl runner: ", name,
               " is not set (weft-perf --np N --compare nccl starts these processes)");
  return std::atoi(v);
}

class NcclOp final : public Op {
 public:
  NcclOp(cudaStream_t stream, bool graph, std::function<void()> call)
      : batch_(stream, graph, std::move(call)) {}
  void launch() override { batch_.launch(); }
  void complete() override { batch_.complete(); }
  void prepare_batch(int n) override { batch_.prepare(n); }
  void run_batch(int n) override { batch_.run(n); }

 private:
  StreamBatch batch_;
};

class NcclRunner final : public Runner {
 public:
  NcclRunner(const std::string& lib, bool graph)
      : api_(lib), graph_(graph), rank_(env_int("RANK")), nranks_(env_int("WORLD_SIZE")),
        device_(env_int("LOCAL_RANK")) {
    cuda_check(cudaSetDevice(device_), "cudaSetDevice");
    TcpStoreOptions so;
    so.host = std::getenv("MASTER_ADDR") != nullptr ? std::getenv("MASTER_ADDR") : "127.0.0.1";
    so.port = static_cast<uint16_t>(env_int("MASTER_PORT"));
    store_ = TcpStore::connect(so);
    // Barriers and sums of timings go through weft on host memory; NCCL
    // itself only runs the measured collectives.
    CommOptions co;
    co.name = "weft-perf-nccl-control";
    control_ = std::make_unique<Communicator>(Communicator::init(*store_, rank_, nranks_, co));
    NcclUniqueId id{};
    const std::string key = "weft-perf/nccl-unique-id";
    if (rank_ == 0) {
      api_.check(api_.GetUniqueId(&id), "ncclGetUniqueId");
      store_->set(key, std::span(reinterpret_cast<const uint8_t*>(&id), sizeof id));
    }
    Bytes got = store_->get(key);
    WEFT_REQUIRE(got.size() == sizeof id, "nccl runner: bad unique id in the store");
    std::memcpy(&id, got.data(), sizeof id);
    api_.check(api_.CommInitRank(&comm_, nranks_, id, rank_), "ncclCommInitRank");
    cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }

  ~NcclRunner() override {
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);
    if (comm_ != nullptr) api_.CommDestroy(comm_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  std::string library() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }
  void barrier() override { control_->barrier().wait(); }
  double sum_all(double value) override {
    double out = 0;
    control_->allreduce(&value, &out, 1, DataType::f64, ReduceOp::sum).wait();
    return out;
  }

  std::vector<std::string> algorithms(Collective c, bool in_place) override {
    // NCCL picks its algorithm and protocol itself (NCCL_ALGO / NCCL_PROTO override).
    if (in_place && (c == Collective::sendrecv || c == Collective::alltoall)) return {};
    return {"auto"};
  }

  Prepared prepare(const OpSpec& s) override {
    Prepared p;
    p.result = s.recv;
    if (s.collective == Collective::reduce_scatter && s.in_place) {
      p.result = static_cast<char*>(s.recv) + rank_ * s.count * size_of(s.dtype);
    }
    p.op = std::make_unique<NcclOp>(stream_, graph_, call(s));
    return p;
  }

  std::string describe() const override {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, device_);
    const char* nvls = std::getenv("NCCL_NVLS_ENABLE");
    return str("NCCL ", api_.version(), " (", api_.path(), ") on ", prop.name, ", device ",
               device_, ", NCCL_NVLS_ENABLE=", nvls != nullptr ? nvls : "(unset)",
               graph_ ? ", CUDA-graph batches" : ", eager launches");
  }

  std::shared_ptr<void> allocate(std::size_t bytes) override { return cuda_allocate(bytes); }
  void copy_in(void* dst, const void* host, std::size_t bytes) override {
    cuda_copy_in(dst, host, bytes);
  }
  void copy_out(void* host, const void* src, std::size_t bytes) override {
    cuda_copy_out(host, src, bytes);
  }

 private:
  // One enqueue of the collective described by `s` on the stream.
  std::function<void()> call(const OpSpec& s) {
    const int t = NcclApi::dtype(s.dtype), op = NcclApi::op(s.op);
    char* recv = static_cast<char*>(s.recv);
    const char* send = s.in_place ? recv : static_cast<const char*>(s.send);
    const std::size_t count = s.count, es = size_of(s.dtype);
    const int n = nranks_, r = rank_, root = s.root;
    NcclApi& a = api_;
    NcclComm comm = comm_;
    void* st = stream_;
    switch (s.collective) {
      case Collective::allreduce:
        return [=, &a] { a.check(a.AllReduce(send, recv, count, t, op, comm, st), "ncclAllReduce"); };
      case Collective::reduce:
        return [=, &a] {
          a.check(a.Reduce(send, recv, count, t, op, root, comm, st), "ncclReduce");
        };
      case Collective::broadcast:
        return [=, &a] {
          a.check(a.Broadcast(send, recv, count, t, root, comm, st), "ncclBroadcast");
        };
      case Collective::allgather: {
        const char* in = s.in_place ? recv + r * count * es : send;
        return [=, &a] { a.check(a.AllGather(in, recv, count, t, comm, st), "ncclAllGather"); };
      }
      case Collective::reduce_scatter: {
        char* out = s.in_place ? recv + r * count * es : recv;
        return [=, &a] {
          a.check(a.ReduceScatter(send, out, count, t, op, comm, st), "ncclReduceScatter");
        };
      }
      case Collective::alltoall:
        // NCCL has no alltoall call: nccl-tests' grouped send/recv to every peer.
        return [=, &a] {
          a.check(a.GroupStart(), "ncclGroupStart");
          for (int q = 0; q < n; ++q) {
            a.check(a.Send(send + q * count * es, count, t, q, comm, st), "ncclSend");
            a.check(a.Recv(recv + q * count * es, count, t, q, comm, st), "ncclRecv");
          }
          a.check(a.GroupEnd(), "ncclGroupEnd");
        };
      case Collective::sendrecv:
        return [=, &a] {
          a.check(a.GroupStart(), "ncclGroupStart");
          a.check(a.Send(send, count, t, (r + 1) % n, comm, st), "ncclSend");
          a.check(a.Recv(recv, count, t, (r - 1 + n) % n, comm, st), "ncclRecv");
          a.check(a.GroupEnd(), "ncclGroupEnd");
        };
    }
    throw_error(ErrorCode::Internal, "nccl runner: unknown collective");
  }

  NcclApi api_;
  bool graph_;
  int rank_, nranks_, device_;
  std::unique_ptr<TcpStore> store_;
  std::unique_ptr<Communicator> control_;
  NcclComm comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<Runner> make_nccl_runner(const std::string& nccl_lib, bool graph) {
  return std::make_unique<NcclRunner>(nccl_lib, graph);
}

void nccl_preflight(const std::string& nccl_lib, int nranks) {
  NcclApi api(nccl_lib);  // throws when it does not load
  const int devices = cuda_device_count();
  if (devices < nranks) {
    throw_error(ErrorCode::Unsupported, str("nccl: needs ", nranks,
                                            " CUDA devices (one process per GPU), found ", devices));
  }
}

}  // namespace weft::perf
