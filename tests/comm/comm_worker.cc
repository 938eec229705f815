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
#include <chrono>
#include <cstdio>
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
