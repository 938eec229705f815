#include "bench.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "collcheck.h"
#include "weft/error.h"

namespace weft::perf {

bool known_collective(const std::string& n) {
  return n == "allreduce" || n == "allgather" || n == "reduce_scatter" || n == "broadcast" ||
         n == "reduce" || n == "alltoall" || n == "sendrecv";
}

double bus_factor(const std::string& c, int world) {
  const double n = world;
  if (c == "allreduce") return 2 * (n - 1) / n;
  if (c == "allgather" || c == "reduce_scatter" || c == "alltoall") return (n - 1) / n;
  return 1;
}

namespace {

// Per-rank element counts, nccl-tests style: `bytes` is the size of the
// largest buffer (the gathered one for allgather, the scattered input for
// reduce_scatter, the whole exchange for alltoall).
size_t count_for(const std::string& c, size_t bytes, DataType t, int n) {
  size_t elems = bytes / size_of(t);
  if (c == "allgather" || c == "reduce_scatter" || c == "alltoall") return elems / static_cast<size_t>(n);
  return elems;
}

struct Buffers {
  std::vector<char> send, recv;
};

Work launch(Communicator& comm, const Settings& s, size_t count, Buffers& b, bool in_place) {
  const int n = comm.size(), r = comm.rank();
  const size_t es = size_of(s.type);
  char* send = b.send.data();
  char* recv = in_place ? send : b.recv.data();
  const std::string& c = s.collective;
  if (c == "allreduce") return comm.allreduce(send, recv, count, s.type, s.op);
  if (c == "reduce") return comm.reduce(send, recv, count, s.type, s.op, s.root);
  if (c == "broadcast") return comm.broadcast(send, count, s.type, s.root);
  if (c == "allgather") {
    if (in_place) return comm.allgather(send + r * count * es, send, count, s.type);
    return comm.allgather(send, recv, count, s.type);
  }
  if (c == "reduce_scatter") {
    if (in_place) return comm.reduce_scatter(send, send + r * count * es, count, s.type, s.op);
    return comm.reduce_scatter(send, recv, count, s.type, s.op);
  }
  if (c == "alltoall") return comm.alltoall(send, recv, count, s.type);
  // sendrecv: a ring, each rank sends to the next and receives from the previous.
  if (n == 1) return Work();
  comm.send(send, count, s.type, (r + 1) % n);
  return comm.recv(recv, count, s.type, (r - 1 + n) % n);
}

Timing run(Communicator& comm, const Settings& s, size_t bytes, size_t count, Buffers& b,
           bool in_place) {
  Timing t;
  for (int i = 0; i < s.warmup; ++i) launch(comm, s, count, b, in_place).wait();
  comm.barrier().wait();
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Work> works;
  for (int i = 0; i < s.iters; ++i) works.push_back(launch(comm, s, count, b, in_place));
  for (auto& w : works) w.wait();
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                  .count() / std::max(1, s.iters);
  double slowest = 0;
  comm.allreduce(&us, &slowest, 1, DataType::f64, ReduceOp::max).wait();
  t.time_us = slowest;
  t.algbw = slowest > 0 ? static_cast<double>(bytes) / slowest / 1e3 : 0;  // GB/s
  t.busbw = t.algbw * bus_factor(s.collective, comm.size());
  if (s.check && s.collective != "sendrecv") {
    check::CheckCase cc;
    const std::string& c = s.collective;
    cc.coll = c == "allreduce" ? check::Coll::allreduce
            : c == "reduce" ? check::Coll::reduce
            : c == "broadcast" ? check::Coll::broadcast
            : c == "allgather" ? check::Coll::allgather
            : c == "reduce_scatter" ? check::Coll::reduce_scatter
            : check::Coll::alltoall;
    cc.type = s.type;
    cc.op = s.op;
    cc.count = count;
    cc.in_place = in_place;
    cc.root = s.root;
    long long wrong = static_cast<long long>(check::run_check(comm, cc).wrong), total = 0;
    comm.allreduce(&wrong, &total, 1, DataType::i64, ReduceOp::sum).wait();
    t.wrong = total;
  } else if (s.check) {
    // sendrecv: the received block must be the previous rank's.
    const int n = comm.size(), r = comm.rank(), prev = (r - 1 + n) % n;
    std::memset(b.send.data(), r + 1, count * size_of(s.type));
    launch(comm, s, count, b, false).wait();
    long long wrong = 0, total = 0;
    for (size_t i = 0; n > 1 && i < count * size_of(s.type); ++i)
      if (b.recv[i] != static_cast<char>(prev + 1)) ++wrong;
    comm.allreduce(&wrong, &total, 1, DataType::i64, ReduceOp::sum).wait();
    t.wrong = total;
  }
  return t;
}

}  // namespace

Row measure(Communicator& comm, const Settings& s, size_t bytes) {
  Row row;
  const int n = comm.size();
  row.count = count_for(s.collective, bytes, s.type, n);
  row.bytes = row.count * size_of(s.type) *
              ((s.collective == "allgather" || s.collective == "reduce_scatter" ||
                s.collective == "alltoall") ? static_cast<size_t>(n) : 1);
  Buffers b;
  const size_t full = row.bytes + 64;
  b.send.assign(full, 1);
  b.recv.assign(full, 0);
  row.out_of_place = run(comm, s, row.bytes, row.count, b, false);
  row.in_place = s.collective == "sendrecv" ? Timing{} : run(comm, s, row.bytes, row.count, b, true);
  return row;
}

}  // namespace weft::perf
