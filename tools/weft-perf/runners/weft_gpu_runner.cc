// weft on the GPUs: a weft::Communicator bound to Device::cuda(LOCAL_RANK),
// every call enqueued on the runner's stream (OpOptions::stream).
#include <algorithm>
#include <cstring>

#include "runners/cuda_support.h"
#include "runners/gpu_runners.h"
#include "runners/weft_runner.h"
#include "weft/cuda.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

// Calls on the stream, eager or captured (StreamBatch). Eager calls keep
// their Work, checked in complete(); calls captured into a graph have none.
class WeftGpuOp final : public Op {
 public:
  WeftGpuOp(const WeftCall& call, const OpSpec& s, cudaStream_t stream, cudaStream_t side,
            bool graph)
      : call_(call), s_(s), stream_(stream), side_(side),
        batch_(stream, graph, [this] { issue(); }) {}
  ~WeftGpuOp() override {
    if (forked_) cudaEventDestroy(fork_);
    if (joined_) cudaEventDestroy(join_);
  }

  void launch() override { batch_.launch(); }
  void complete() override {
    batch_.complete();
    for (auto& w : pending_) w.wait();
    pending_.clear();
  }
  void prepare_batch(int n) override {
    capturing_ = true;
    batch_.prepare(n);
    capturing_ = false;
  }
  void run_batch(int n) override {
    batch_.run(n);
    // The stream is synchronized: the Works are done; their errors surface here.
    for (auto& w : pending_) w.wait();
    pending_.clear();
  }

 private:
  void issue() {
    std::vector<Work> also;
    if (s_.collective != Collective::sendrecv) {
      keep(start_weft_op(call_, s_, also));
      return;
    }
    // send on the stream, receive on a side stream forked from it and joined
    // back, so neither waits behind the other (and a graph captures both).
    if (!forked_) {
      cuda_check(cudaEventCreateWithFlags(&fork_, cudaEventDisableTiming), "cudaEventCreate");
      cuda_check(cudaEventCreateWithFlags(&join_, cudaEventDisableTiming), "cudaEventCreate");
      forked_ = joined_ = true;
    }
    cuda_check(cudaEventRecord(fork_, stream_), "cudaEventRecord");
    cuda_check(cudaStreamWaitEvent(side_, fork_, 0), "cudaStreamWaitEvent");
    keep(start_weft_op(call_, s_, also));
    for (auto& w : also) keep(std::move(w));
    cuda_check(cudaEventRecord(join_, side_), "cudaEventRecord");
    cuda_check(cudaStreamWaitEvent(stream_, join_, 0), "cudaStreamWaitEvent");
  }
  void keep(Work w) {
    if (!capturing_) pending_.push_back(std::move(w));
  }

  WeftCall call_;
  OpSpec s_;
  cudaStream_t stream_, side_;
  StreamBatch batch_;
  std::vector<Work> pending_;
  bool capturing_ = false, forked_ = false, joined_ = false;
  cudaEvent_t fork_ = nullptr, join_ = nullptr;
};

class WeftGpuRunner final : public GpuRunner {
 public:
  WeftGpuRunner(bool graph, bool register_buffers)
      : GpuRunner("weft"), graph_(graph), register_(register_buffers) {
    CommOptions co;
    co.device = Device::cuda(device());
    co.name = "weft-perf";
    comm_ = std::make_unique<Communicator>(Communicator::init(store(), rank(), nranks(), co));
    cuda_check(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking), "cudaStreamCreate");
    call_.comm = comm_.get();
    call_.opts.stream = stream();
    call_.recv_opts.stream = side_;
    cudaStream_t st = stream();
    call_.copy = [st](void* dst, const void* src, std::size_t n) {
      cuda_check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, st), "cudaMemcpyAsync");
    };
  }
  ~WeftGpuRunner() override {
    cudaStreamSynchronize(side_);
    cudaStreamDestroy(side_);
  }

  std::string library() const override { return "weft"; }

  std::vector<std::string> algorithms(Collective c, bool in_place) override {
    // weft's planner picks the algorithm (WEFT_ALGO overrides it). In-place
    // alltoall and sendrecv are left out, as for NCCL.
    if (in_place && (c == Collective::sendrecv || c == Collective::alltoall)) return {};
    return {"auto"};
  }

  Prepared prepare(const OpSpec& s) override {
    Prepared p;
    p.result = weft_result(s, rank());
    p.op = std::make_unique<WeftGpuOp>(call_, s, stream(), side_, graph_);
    return p;
  }

  std::string describe() const override {
    return str("weft ", WEFT_VERSION, " on ", device_text(),
               register_ ? ", buffers registered (zero-copy)" : ", buffers not registered",
               graph_ ? ", CUDA-graph batches" : ", eager launches");
  }

  // With --register: exportable memory (weft::cuda::alloc) registered with
  // the communicator, so collectives read and write the peers' buffers.
  std::shared_ptr<void> allocate(std::size_t bytes) override {
    if (!register_) return GpuRunner::allocate(bytes);
    void* p = cuda::alloc(std::max<std::size_t>(bytes, 64));
    cuda_check(cudaMemset(p, 0, std::max<std::size_t>(bytes, 64)), "cudaMemset");
    BufferHandle h = comm_->register_buffer(p, std::max<std::size_t>(bytes, 64));
    Communicator* comm = comm_.get();
    return std::shared_ptr<void>(p, [comm, h](void* q) {
      try {
        comm->deregister(h);
        cuda::free(q);
      } catch (const std::exception&) {
        // A failed communicator cannot deregister; the process is ending anyway.
      }
    });
  }

 private:
  bool graph_, register_;
  std::unique_ptr<Communicator> comm_;
  cudaStream_t side_ = nullptr;
  WeftCall call_;
};

}  // namespace

std::unique_ptr<Runner> make_weft_gpu_runner(bool graph, bool register_buffers) {
  return std::make_unique<WeftGpuRunner>(graph, register_buffers);
}

}  // namespace weft::perf
