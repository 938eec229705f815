#include "runners/weft_runner.h"

#include <cstring>

#include "weft/error.h"

namespace weft::perf {
namespace {

// Launches keep their Work; complete() waits for all of them.
class WeftHostOp final : public Op {
 public:
  WeftHostOp(Communicator& comm, const OpSpec& s) : s_(s) {
    call_.comm = &comm;
    // --blocking: the collectives' blocking form (MPI_Allreduce's
    // contract); the calls return done, complete() finds nothing to wait for.
    call_.opts.blocking = s.blocking;
    call_.copy = [](void* dst, const void* src, std::size_t n) { std::memcpy(dst, src, n); };
  }
  void launch() override {
    Work w = start_weft_op(call_, s_, pending_);
    pending_.push_back(std::move(w));
  }
  void complete() override {
    for (auto& w : pending_) w.wait();
    pending_.clear();
  }

 private:
  WeftCall call_;
  OpSpec s_;
  std::vector<Work> pending_;
};

}  // namespace

Work start_weft_op(const WeftCall& call, const OpSpec& s, std::vector<Work>& also) {
  Communicator& comm = *call.comm;
  const int n = comm.size(), r = comm.rank();
  const std::size_t es = size_of(s.dtype), count = s.count;
  char* recv = static_cast<char*>(s.recv);
  const char* send = s.in_place ? recv : static_cast<const char*>(s.send);
  const OpOptions& o = call.opts;
  switch (s.collective) {
    case Collective::allreduce: return comm.allreduce(send, recv, count, s.dtype, s.op, o);
    case Collective::reduce: return comm.reduce(send, recv, count, s.dtype, s.op, s.root, o);
    case Collective::broadcast:
      // Out of place: the root's input is copied into the buffer first
      // (weft's broadcast, like MPI's, is in place).
      if (!s.in_place && r == s.root) call.copy(recv, send, count * es);
      return comm.broadcast(recv, count, s.dtype, s.root, o);
    case Collective::allgather:
      if (s.in_place) send = recv + r * count * es;
      return comm.allgather(send, recv, count, s.dtype, o);
    case Collective::reduce_scatter:
      return comm.reduce_scatter(send, s.in_place ? recv + r * count * es : recv, count, s.dtype,
                                 s.op, o);
    case Collective::alltoall: return comm.alltoall(send, recv, count, s.dtype, o);
    case Collective::sendrecv: {
      // A ring: each rank sends to the next and receives from the previous.
      if (n == 1) {
        call.copy(recv, send, count * es);
        return Work();
      }
      Work received = comm.recv(recv, count, s.dtype, (r - 1 + n) % n, 0, call.recv_opts);
      also.push_back(comm.send(send, count, s.dtype, (r + 1) % n, 0, o));
      return received;
    }
  }
  throw_error(ErrorCode::Internal, "weft runner: unknown collective");
}

const void* weft_result(const OpSpec& s, int rank) {
  const bool rs_in_place = s.collective == Collective::reduce_scatter && s.in_place;
  return static_cast<char*>(s.recv) + (rs_in_place ? rank * s.count * size_of(s.dtype) : 0);
}

double WeftRunner::sum_all(double value) {
  double out = 0;
  comm_.allreduce(&value, &out, 1, DataType::f64, ReduceOp::sum).wait();
  return out;
}

std::vector<std::string> WeftRunner::algorithms(Collective c, bool in_place) {
  // weft's planner picks the algorithm itself (WEFT_ALGO overrides it).
  if (c == Collective::sendrecv && in_place) return {};
  return {"auto"};
}

Prepared WeftRunner::prepare(const OpSpec& spec) {
  Prepared p;
  p.op = std::make_unique<WeftHostOp>(comm_, spec);
  p.result = weft_result(spec, comm_.rank());
  return p;
}

std::string WeftRunner::describe() const {
  return str("weft ", WEFT_VERSION, " on host memory; algorithms chosen by weft's planner");
}

}  // namespace weft::perf
