#include "runners/gloo_runner.h"

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring_chunked.h>
#include <gloo/alltoall.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/config.h>
#include <gloo/math.h>
#include <gloo/reduce.h>
#include <gloo/reduce_scatter.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/buffer.h>
#include <gloo/transport/pair.h>
#include <gloo/transport/tcp/device.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "runners/typed.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

// Gloo's two reduction interfaces: the new API takes a type-erased function,
// the classic algorithms a ReductionFunction object.
template <typename T>
gloo::AllreduceOptions::Func new_api_fn(ReduceOp op) {
  using F = void (*)(void*, const void*, const void*, size_t);
  switch (op) {
    case ReduceOp::min: return static_cast<F>(&gloo::min<T>);
    case ReduceOp::max: return static_cast<F>(&gloo::max<T>);
    case ReduceOp::prod: return static_cast<F>(&gloo::product<T>);
    default: return static_cast<F>(&gloo::sum<T>);
  }
}

template <typename T>
const gloo::ReductionFunction<T>* classic_fn(ReduceOp op) {
  switch (op) {
    case ReduceOp::min: return gloo::ReductionFunction<T>::min;
    case ReduceOp::max: return gloo::ReductionFunction<T>::max;
    case ReduceOp::prod: return gloo::ReductionFunction<T>::product;
    default: return gloo::ReductionFunction<T>::sum;
  }
}

// Wraps a classic (constructed-once, run-many) Gloo algorithm.
template <typename A>
std::unique_ptr<Op> classic(std::unique_ptr<A> algorithm) {
  auto shared = std::shared_ptr<A>(std::move(algorithm));
  return std::make_unique<FunctionOp>([shared] { shared->run(); });
}

template <typename T>
Prepared prepare_typed(const std::shared_ptr<gloo::Context>& ctx, const OpSpec& s) {
  T* send = static_cast<T*>(s.send);
  T* recv = static_cast<T*>(s.recv);
  const int n = ctx->size;
  const int count = static_cast<int>(s.count);
  Prepared p;
  p.result = recv;
  switch (s.collective) {
    case Collective::allreduce: {
      if (s.algo == "ring" || s.algo == "bcube") {
        // The API PyTorch's ProcessGroupGloo calls for CPU tensors.
        auto opts = std::make_shared<gloo::AllreduceOptions>(ctx);
        opts->setAlgorithm(s.algo == "ring" ? gloo::AllreduceOptions::Algorithm::RING
                                            : gloo::AllreduceOptions::Algorithm::BCUBE);
        if (!s.in_place) opts->setInput(send, s.count);
        opts->setOutput(recv, s.count);
        opts->setReduceFunction(new_api_fn<T>(s.op));
        p.op = std::make_unique<FunctionOp>([opts] { gloo::allreduce(*opts); });
      } else if (s.algo == "ring_chunked") {
        p.op = classic(std::make_unique<gloo::AllreduceRingChunked<T>>(
            ctx, std::vector<T*>{recv}, count, classic_fn<T>(s.op)));
      } else if (s.algo == "halving_doubling") {
        p.op = classic(std::make_unique<gloo::AllreduceHalvingDoubling<T>>(
            ctx, std::vector<T*>{recv}, count, classic_fn<T>(s.op)));
      }
      break;
    }
    case Collective::allgather: {
      auto opts = std::make_shared<gloo::AllgatherOptions>(ctx);
      // In place: no input; the rank's own chunk is already in the output.
      if (!s.in_place) opts->setInput(send, s.count);
      opts->setOutput(recv, s.count * n);
      p.op = std::make_unique<FunctionOp>([opts] { gloo::allgather(*opts); });
      break;
    }
    case Collective::reduce_scatter: {
      // Gloo's only reduce-scatter works in place and leaves this rank's
      // slice at the start of the buffer.
      std::vector<int> recv_elems(n, count);
      p.op = classic(std::make_unique<gloo::ReduceScatterHalvingDoubling<T>>(
          ctx, std::vector<T*>{recv}, count * n, recv_elems, classic_fn<T>(s.op)));
      break;
    }
    case Collective::broadcast: {
      auto opts = std::make_shared<gloo::BroadcastOptions>(ctx);
      opts->setRoot(s.root);
      if (!s.in_place && ctx->rank == s.root) opts->setInput(send, s.count);
      opts->setOutput(recv, s.count);
      p.op = std::make_unique<FunctionOp>([opts] { gloo::broadcast(*opts); });
      break;
    }
    case Collective::reduce: {
      auto opts = std::make_shared<gloo::ReduceOptions>(ctx);
      opts->setRoot(s.root);
      if (!s.in_place) opts->setInput(send, s.count);
      opts->setOutput(recv, s.count);
      opts->setReduceFunction(new_api_fn<T>(s.op));
      p.op = std::make_unique<FunctionOp>([opts] { gloo::reduce(*opts); });
      break;
    }
    case Collective::alltoall: {
      auto opts = std::make_shared<gloo::AlltoallOptions>(ctx);
      opts->setInput(send, s.count * n);
      opts->setOutput(recv, s.count * n);
      p.op = std::make_unique<FunctionOp>([opts] { gloo::alltoall(*opts); });
      break;
    }
    case Collective::sendrecv: break;  // not offered (see algorithms())
  }
  WEFT_REQUIRE(p.op != nullptr, "gloo: no algorithm \"", s.algo, "\" for ",
               to_string(s.collective));
  return p;
}

}  // namespace

GlooRunner::GlooRunner(const GlooConfig& c) : rank_(c.rank), nranks_(c.nranks) {
  WEFT_REQUIRE(c.nranks >= 1 && c.rank >= 0 && c.rank < c.nranks, "gloo: rank ", c.rank,
               " out of range for world size ", c.nranks);
  WEFT_REQUIRE(!c.store_dir.empty(), "gloo: a FileStore directory is required (--store-dir)");
  gloo::transport::tcp::attr attr;
  if (!c.iface.empty()) {
    attr.iface = c.iface;
    bound_to_ = "interface " + c.iface;
  } else {
    attr.hostname = c.hostname;
    bound_to_ = "address " + c.hostname;
  }
  try {
    auto device = gloo::transport::tcp::CreateDevice(attr);
    gloo::rendezvous::FileStore file_store(c.store_dir);
    gloo::rendezvous::PrefixStore store(c.prefix, file_store);
    auto context = std::make_shared<gloo::rendezvous::Context>(c.rank, c.nranks);
    context->setTimeout(c.timeout);
    context->connectFullMesh(store, device);
    context_ = context;
  } catch (const std::exception& e) {
    throw_error(ErrorCode::SystemError,
                str("gloo: rank ", c.rank, ": rendezvous through ", c.store_dir, " failed: ",
                    e.what()));
  }
}

GlooRunner::~GlooRunner() = default;

void GlooRunner::barrier() {
  gloo::BarrierOptions opts(context_);
  gloo::barrier(opts);
}

double GlooRunner::sum_all(double value) {
  double v = value;
  gloo::AllreduceOptions opts(context_);
  opts.setOutput(&v, 1);
  opts.setReduceFunction(
      static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<double>));
  gloo::allreduce(opts);
  return v;
}

std::vector<std::string> GlooRunner::algorithms(Collective c, bool in_place) {
  switch (c) {
    case Collective::allreduce:
      // The new API (ring, bcube) does both placements; the classic
      // algorithms work in place only.
      if (!in_place) return {"ring", "bcube"};
      return {"ring", "bcube", "ring_chunked", "halving_doubling"};
    case Collective::allgather: return {"ring"};
    case Collective::reduce_scatter:
      if (!in_place) return {};
      return {"halving_doubling"};
    case Collective::broadcast: return {"one_to_all"};
    case Collective::reduce: return {"ring"};
    case Collective::alltoall:
      if (in_place) return {};  // gloo::alltoall needs distinct input and output
      return {"pairwise"};
    case Collective::sendrecv: return {};
  }
  return {};
}

Prepared GlooRunner::prepare(const OpSpec& spec) {
  return visit_dtype(spec.dtype, [&](auto t) { return prepare_typed<decltype(t)>(context_, spec); });
}

// Gloo's TCP pair sets SO_SNDBUF (which also turns off the kernel's send
// buffer autotuning) from the size of the messages that go through its sized
// send path: classic-algorithm buffers and the 48-byte notifications of the
// new API, but not the new API's data. A pair whose first sized message was a
// notification is stuck at the kernel minimum (4.5 KiB): every 64 KiB segment
// then waits for the peer's delayed ACK (~40 ms), ~1.5 MB/s. Observed here on
// 4 ranks: the two pairs no classic algorithm used in the sender's direction
// (0->3, 2->1) had 4.5 KiB send buffers, the others 8 MiB, and the sweep
// crawled. So each rank sends one large classic-buffer message to every peer
// (pairwise rounds: to rank+s, from rank-s), which sizes every pair in both
// directions before anything is timed.
void GlooRunner::warm_up(std::size_t max_bytes) {
  if (nranks_ < 2) return;
  // Gloo caps its request at 32 MiB; the kernel then caps at net.core.wmem_max.
  const std::size_t bytes = std::clamp<std::size_t>(max_bytes, 1 << 20, 32 << 20);
  std::vector<char> out(bytes, 1), in(bytes, 0);
  for (int step = 1; step < nranks_; ++step) {
    const int to = (rank_ + step) % nranks_;
    const int from = (rank_ - step + nranks_) % nranks_;
    const int slot = context_->nextSlot();  // same sequence on every rank
    auto recv = context_->getPair(from)->createRecvBuffer(slot, in.data(), bytes);
    auto send = context_->getPair(to)->createSendBuffer(slot, out.data(), bytes);
    send->send(0, bytes);
    recv->waitRecv();
    send->waitSend();
  }
}

std::string GlooRunner::describe() const {
  return str("gloo ", GLOO_VERSION_MAJOR, ".", GLOO_VERSION_MINOR, ".", GLOO_VERSION_PATCH,
             " (Debian libgloo), TCP transport bound to ", bound_to_,
             "; reduce_scatter = ReduceScatterHalvingDoubling, in place only, result at offset 0");
}

}  // namespace weft::perf
