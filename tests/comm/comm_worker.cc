// One rank of a multi-process communicator test, spawned N times by
// multiprocess_test.cc with RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT set
// (the test process hosts the store). It prints one line
//   RESULT rank=R code=OK|<ErrorCode> t_ms=<epoch ms> msg=<message>
// and exits 0 when its own checks passed.
//
//   comm_worker matrix COUNT...   every collective x dtype x op x count
//   comm_worker big               64 MiB allreduce + 1 MiB of every collective
//   comm_worker loop              64 MiB allreduces until something fails
//   comm_worker mismatch count|op rank 1 disagrees with the others
//   comm_worker stall RANK        RANK never joins; the others time out (1 s)
//   comm_worker abort RANK        RANK aborts while the others allreduce
//   comm_worker split             split by parity, allreduce in each half
//   comm_worker storm             tagged send/recv between every pair, any order
//   comm_worker help              small collectives waited at once, late, from two
//                                 threads, never, beside large ones (help_mode)
//   comm_worker loop_small        1-element allreduces waited at once until one fails
//   comm_worker stall_small RANK [PATIENT]
//                                 RANK never joins a 1-element allreduce (1 s timeout;
//                                 30 s on rank PATIENT, which prints ENTERING first)
//   comm_worker abort_small RANK  RANK aborts from a second thread while its main
//                                 thread waits on (and so runs) small allreduces
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "collcheck.h"
#include "rank_report.h"
#include "rank_worker.h"
#include "weft/communicator.h"
#include "weft/error.h"

using namespace weft;
using namespace std::chrono_literals;

namespace {

using weft::test::now_ms;
using weft::test::report;

// One allreduce of i64 in flight: element j of operation i on rank q is
// q * 1000003 + i * 31 + j, so the exact sum says which operation's data
// landed where.
struct Pending {
  int index = 0;
  std::vector<int64_t> in, out;
  Work work;
};

class Allreduces {
 public:
  explicit Allreduces(Communicator& comm) : comm_(comm) {}
  Pending* start(size_t count) {
    auto p = std::make_unique<Pending>();
    p->index = next_++;
    p->in.resize(count);
    for (size_t j = 0; j < count; ++j)
      p->in[j] = int64_t{comm_.rank()} * 1000003 + int64_t{p->index} * 31 + static_cast<int64_t>(j);
    p->out.assign(count, -1);
    p->work = comm_.allreduce(p->in.data(), p->out.data(), count, DataType::i64, ReduceOp::sum);
    all_.push_back(std::move(p));
    return all_.back().get();
  }
  // Counts the wrong elements of every operation started so far (all must be complete).
  int64_t wrong() const {
    const int64_t n = comm_.size();
    int64_t bad = 0;
    for (const auto& p : all_)
      for (size_t j = 0; j < p->out.size(); ++j)
        if (p->out[j] != 1000003 * n * (n - 1) / 2 + n * (int64_t{p->index} * 31 + static_cast<int64_t>(j)))
          ++bad;
    return bad;
  }
  size_t size() const { return all_.size(); }

 private:
  Communicator& comm_;
  int next_ = 0;
  std::vector<std::unique_ptr<Pending>> all_;
};

// Every way a collective can reach the thread that runs it: the waiting
// thread runs the queue up to its operation, the worker runs what nobody
// waits for (and the large ones), and the ranks need not agree on which.
int help_mode(Communicator& comm) {
  const int r = comm.rank();
  Allreduces ops(comm);
  std::string failures;
  auto small = [](int i) { return static_cast<size_t>(1 + (i * 37) % 700); };
  // Waited at once.
  for (int i = 0; i < 200; ++i) ops.start(small(i))->work.wait();
  // Batches waited in reverse: the first wait runs the whole batch.
  for (int b = 0; b < 10; ++b) {
    std::vector<Pending*> batch;
    for (int i = 0; i < 16; ++i) batch.push_back(ops.start(small(i + b)));
    for (int i = 15; i >= 0; --i) batch[static_cast<size_t>(i)]->work.wait();
  }
  // Two threads waiting at once, on alternate operations.
  {
    std::vector<Pending*> batch;
    for (int i = 0; i < 64; ++i) batch.push_back(ops.start(small(i)));
    std::thread other([&] {
      for (size_t i = 0; i < batch.size(); i += 2) batch[i]->work.wait();
    });
    for (size_t i = 1; i < batch.size(); i += 2) batch[i]->work.wait();
    other.join();
  }
  // Never waited: the worker must run them. Rank 0 waits, the others only
  // poll; their operations complete all the same.
  for (int i = 0; i < 5; ++i) {
    Pending* p = ops.start(small(i));
    if (r == 0) {
      p->work.wait();
      continue;
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!p->work.completed() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(100us);
    if (!p->work.completed()) failures += str("operation ", p->index, " never ran unwaited; ");
    p->work.wait();
  }
  // Large operations (the worker's) between small ones, waited in order.
  for (int i = 0; i < 3; ++i) {
    Pending* a = ops.start(small(i));
    Pending* big = ops.start(size_t{64} << 10);  // 512 KiB
    Pending* c = ops.start(small(i + 1));
    if (i == 1) c->work.wait();  // the last wait first: it waits for the worker's turn
    a->work.wait();
    big->work.wait();
    c->work.wait();
  }
  // Late waits on odd ranks, at once on even ones.
  for (int i = 0; i < 50; ++i) {
    Pending* p = ops.start(small(i));
    if (r % 2) std::this_thread::sleep_for(200us);
    p->work.wait();
  }
  const int64_t wrong = ops.wrong();
  if (wrong) failures += str(wrong, " wrong elements; ");
  return report(r, "OK", failures.empty() ? str(ops.size(), " allreduces exact") : failures,
                failures.empty());
}

int run(Communicator& comm, int argc, char** argv) {
  const std::string mode = argv[1];
  const int r = comm.rank(), n = comm.size();
  if (mode == "matrix") {
    std::vector<size_t> counts;
    for (int i = 2; i < argc; ++i) counts.push_back(std::stoul(argv[i]));
    std::string failures = check::run_matrix(comm, counts);
    return report(r, "OK", failures.empty() ? "all passed" : failures, failures.empty());
  }
  if (mode == "big") {
    std::string failures;
    auto res = check::run_check(comm, {check::Coll::allreduce, DataType::f32, ReduceOp::sum,
                                      size_t{16} << 20, false, 0});
    if (res.wrong) failures += res.detail + "; ";
    for (check::Coll c : check::kAllColls) {
      for (DataType t : {DataType::f32, DataType::bf16, DataType::i64}) {
        auto rr = check::run_check(comm, {c, t, ReduceOp::sum, (size_t{1} << 20) / size_of(t) + 3,
                                         c == check::Coll::allreduce, n - 1});
        if (rr.wrong) failures += rr.detail + "; ";
      }
    }
    return report(r, "OK", failures.empty() ? "all passed" : failures, failures.empty());
  }
  if (mode == "loop") {
    std::vector<float> buf(size_t{16} << 20, 1.0f);  // 64 MiB
    for (int i = 0;; ++i) {
      comm.allreduce(buf.data(), buf.data(), buf.size(), DataType::f32, ReduceOp::sum).wait();
      std::printf("ITER %d\n", i);
      std::fflush(stdout);
    }
  }
  if (mode == "mismatch") {
    const bool counts = std::string(argv[2]) == "count";
    std::vector<int32_t> buf(1000, 1);
    size_t count = (counts && r == 1) ? 999 : 1000;
    ReduceOp op = (!counts && r == 1) ? ReduceOp::max : ReduceOp::sum;
    comm.allreduce(buf.data(), buf.data(), count, DataType::i32, op).wait();
    return report(r, "OK", "no error", false);
  }
  if (mode == "stall") return weft::test::stall_mode(comm, std::stoi(argv[2]));
  if (mode == "help") return help_mode(comm);
  if (mode == "loop_small") {
    int64_t v = r, sum = 0;
    for (int i = 0;; ++i) {
      comm.allreduce(&v, &sum, 1, DataType::i64, ReduceOp::sum).wait();
      if (sum != int64_t{n} * (n - 1) / 2) return report(r, "OK", str("wrong sum ", sum), false);
      if (i % 200 == 0) {
        std::printf("ITER %d\n", i);
        std::fflush(stdout);
      }
    }
  }
  if (mode == "stall_small") {
    const int stalled = std::stoi(argv[2]);
    if (r == stalled) {
      std::this_thread::sleep_for(3s);
      return report(r, "OK", "stalled", true);
    }
    const bool patient = argc > 3 && r == std::stoi(argv[3]);
    int64_t v = r, sum = 0;
    OpOptions o;
    o.timeout = patient ? 30s : 1s;
    if (patient) {
      std::printf("ENTERING\n");
      std::fflush(stdout);
    }
    comm.allreduce(&v, &sum, 1, DataType::i64, ReduceOp::sum, o).wait();
    return report(r, "OK", "no error", false);
  }
  if (mode == "abort_small") {
    const int aborter = std::stoi(argv[2]);
    std::thread abort_later;
    if (r == aborter)
      abort_later = std::thread([&] {
        std::this_thread::sleep_for(300ms);
        comm.abort();
      });
    int64_t v = r, sum = 0;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    try {
      while (std::chrono::steady_clock::now() < deadline)
        comm.allreduce(&v, &sum, 1, DataType::i64, ReduceOp::sum).wait();
    } catch (...) {
      if (abort_later.joinable()) abort_later.join();
      throw;
    }
    if (abort_later.joinable()) abort_later.join();
    return report(r, "OK", "no error", false);
  }
  if (mode == "abort") {
    const int aborter = std::stoi(argv[2]);
    std::vector<float> buf(1 << 16, 1.0f);
    comm.barrier().wait();
    if (r == aborter) {
      std::this_thread::sleep_for(300ms);
      comm.abort();
      return report(r, "OK", "aborted", true);
    }
    comm.allreduce(buf.data(), buf.data(), buf.size(), DataType::f32, ReduceOp::sum).wait();
    return report(r, "OK", "no error", false);
  }
  if (mode == "split") {
    Communicator half = comm.split(r % 2, -r);  // reversed order inside each half
    const int expect_size = (n + 1 - r % 2) / 2;
    int64_t v = r, sum = 0;
    half.allreduce(&v, &sum, 1, DataType::i64, ReduceOp::sum).wait();
    int64_t want = 0;
    for (int q = r % 2; q < n; q += 2) want += q;
    // key -r: the highest parent rank of each half becomes rank 0.
    int highest = (n - 1) % 2 == r % 2 ? n - 1 : n - 2;
    int expect_rank = (highest - r) / 2;
    bool ok = half.size() == expect_size && sum == want && half.rank() == expect_rank;
    Communicator none = comm.split(r == 0 ? -1 : 0, 0);  // rank 0 opts out
    ok = ok && (r == 0 ? !none.valid() : none.size() == n - 1);
    return report(r, "OK", str("half size ", half.size(), " rank ", half.rank(), " sum ", sum,
                               " want ", want), ok);
  }
  if (mode == "storm") {
    const int messages = 200;
    std::vector<std::vector<int64_t>> in(static_cast<size_t>(n * messages * 2)),
        out(static_cast<size_t>(n * messages * 2));
    std::vector<Work> works;
    for (int i = 1; i < n; ++i) {
      int p = (r + i) % n;
      for (int tag : {1, 0})
        for (int m = 0; m < messages; ++m) {
          auto& b = in[static_cast<size_t>((p * messages + m) * 2 + tag)];
          b.resize(static_cast<size_t>(1 + m % 7) * 1000);
          works.push_back(comm.recv(b.data(), b.size(), DataType::i64, p, tag));
        }
      p = (r - i + n) % n;
      for (int tag : {0, 1})
        for (int m = 0; m < messages; ++m) {
          auto& b = out[static_cast<size_t>((p * messages + m) * 2 + tag)];
          b.assign(static_cast<size_t>(1 + m % 7) * 1000, r * 1000000 + m * 10 + tag);
          works.push_back(comm.send(b.data(), b.size(), DataType::i64, p, tag));
        }
    }
    for (auto& w : works) w.wait();
    int wrong = 0;
    for (int p = 0; p < n; ++p)
      for (int tag : {0, 1})
        for (int m = 0; m < messages && p != r; ++m)
          for (int64_t x : in[static_cast<size_t>((p * messages + m) * 2 + tag)])
            if (x != p * 1000000 + m * 10 + tag) ++wrong;
    return report(r, "OK", str(wrong, " wrong"), wrong == 0);
  }
  return report(r, "OK", "unknown mode " + mode, false);
}

}  // namespace

int main(int argc, char** argv) {
  return weft::test::worker_main("comm_worker", argc, argv, run);
}
