#include "runners/gpu_runners.h"

#include <cstdlib>
#include <cstring>

#include "runners/cuda_support.h"
#include "runners/nccl_api.h"
#include "weft/communicator.h"
#include "weft/error.h"
#include "weft/store.h"

namespace weft::perf {
namespace {

class NcclRunner final : public GpuRunner {
 public:
  NcclRunner(const std::string& lib, bool graph) : GpuRunner("nccl"), api_(lib), graph_(graph) {
    NcclUniqueId id{};
    const std::string key = "weft-perf/nccl-unique-id";
    if (rank() == 0) {
      api_.check(api_.GetUniqueId(&id), "ncclGetUniqueId");
      store().set(key, std::span(reinterpret_cast<const uint8_t*>(&id), sizeof id));
    }
    Bytes got = store().get(key);
    WEFT_REQUIRE(got.size() == sizeof id, "nccl runner: bad unique id in the store");
    std::memcpy(&id, got.data(), sizeof id);
    api_.check(api_.CommInitRank(&comm_, nranks(), id, rank()), "ncclCommInitRank");
  }

  ~NcclRunner() override {
    cudaStreamSynchronize(stream());
    if (comm_ != nullptr) api_.CommDestroy(comm_);
  }

  std::string library() const override { return "nccl"; }

  std::vector<std::string> algorithms(Collective c, bool in_place) override {
    // NCCL picks its algorithm and protocol itself (NCCL_ALGO / NCCL_PROTO override).
    if (in_place && (c == Collective::sendrecv || c == Collective::alltoall)) return {};
    return {"auto"};
  }

  Prepared prepare(const OpSpec& s) override {
    Prepared p;
    p.result = s.recv;
    if (s.collective == Collective::reduce_scatter && s.in_place) {
      p.result = static_cast<char*>(s.recv) + rank() * s.count * size_of(s.dtype);
    }
    p.op = std::make_unique<StreamOp>(stream(), graph_, call(s));
    return p;
  }

  std::string describe() const override {
    const char* nvls = std::getenv("NCCL_NVLS_ENABLE");
    return str("NCCL ", api_.version(), " (", api_.path(), ") on ", device_text(),
               ", NCCL_NVLS_ENABLE=", nvls != nullptr ? nvls : "(unset)",
               graph_ ? ", CUDA-graph batches" : ", eager launches");
  }

 private:
  // One enqueue of the collective described by `s` on the stream.
  std::function<void()> call(const OpSpec& s) {
    const int t = NcclApi::dtype(s.dtype), op = NcclApi::op(s.op);
    char* recv = static_cast<char*>(s.recv);
    const char* send = s.in_place ? recv : static_cast<const char*>(s.send);
    const std::size_t count = s.count, es = size_of(s.dtype);
    const int n = nranks(), r = rank(), root = s.root;
    NcclApi& a = api_;
    NcclComm comm = comm_;
    void* st = stream();
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
  NcclComm comm_ = nullptr;
};

}  // namespace

std::unique_ptr<Runner> make_nccl_runner(const std::string& nccl_lib, bool graph) {
  return std::make_unique<NcclRunner>(nccl_lib, graph);
}

void nccl_preflight(const std::string& nccl_lib) {
  NcclApi api(nccl_lib);  // throws when it does not load
}

}  // namespace weft::perf
