#include "runners/weft_runner.h"

#include <cstring>

#include "weft/error.h"

namespace weft::perf {
namespace {

// Launches keep their Work; complete() waits for all of them.
class WeftOp final : public Op {
 public:
  WeftOp(Communicator& comm, const OpSpec& s) : comm_(comm), s_(s) {}

  void launch() override { pending_.push_back(start()); }
  void complete() override {
    for (auto& w : pending_) w.wait();
    pending_.clear();
  }

 private:
  Work start() {
    const int n = comm_.size(), r = comm_.rank();
    const std::size_t es = size_of(s_.dtype), count = s_.count;
    char* recv = static_cast<char*>(s_.recv);
    const char* send = s_.in_place ? recv : static_cast<const char*>(s_.send);
    switch (s_.collective) {
      case Collective::allreduce: return comm_.allreduce(send, recv, count, s_.dtype, s_.op);
      case Collective::reduce:
        return comm_.reduce(send, recv, count, s_.dtype, s_.op, s_.root);
      case Collective::broadcast:
        // Out of place: the root's input is copied into the buffer first
        // (weft's broadcast, like MPI's, is in place).
        if (!s_.in_place && r == s_.root) std::memcpy(recv, send, count * es);
        return comm_.broadcast(recv, count, s_.dtype, s_.root);
      case Collective::allgather:
        if (s_.in_place) send = recv + r * count * es;
        return comm_.allgather(send, recv, count, s_.dtype);
      case Collective::reduce_scatter:
        return comm_.reduce_scatter(send, s_.in_place ? recv + r * count * es : recv, count,
                                    s_.dtype, s_.op);
      case Collective::alltoall: return comm_.alltoall(send, recv, count, s_.dtype);
      case Collective::sendrecv: {
        // A ring: each rank sends to the next and receives from the previous.
        if (n == 1) {
          std::memcpy(recv, send, count * es);
          return Work();
        }
        pending_.push_back(comm_.send(send, count, s_.dtype, (r + 1) % n));
        return comm_.recv(recv, count, s_.dtype, (r - 1 + n) % n);
      }
    }
    throw_error(ErrorCode::Internal, "weft runner: unknown collective");
  }

  Communicator& comm_;
  OpSpec s_;
  std::vector<Work> pending_;
};

}  // namespace

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
  p.op = std::make_unique<WeftOp>(comm_, spec);
  const bool rs_in_place = spec.collective == Collective::reduce_scatter && spec.in_place;
  p.result = static_cast<char*>(spec.recv) +
             (rs_in_place ? comm_.rank() * spec.count * size_of(spec.dtype) : 0);
  return p;
}

std::string WeftRunner::describe() const {
  return str("weft ", WEFT_VERSION, " on host memory; algorithms chosen by weft's planner");
}

}  // namespace weft::perf
