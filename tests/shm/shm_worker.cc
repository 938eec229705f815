// One rank of the shared-memory tests (spawned by shm_test.cc with RANK /
// WORLD_SIZE / MASTER_ADDR / MASTER_PORT, and WEFT_HOST_ID to fake hosts).
// Prints one line
//   RESULT rank=R code=OK|<ErrorCode> t_ms=<epoch ms> msg=<message>
// and exits 0 when its own checks passed.
//
//   shm_worker matrix COUNT...  every collective x dtype x op x count, in and out of place
//   shm_worker colls LIST COUNT...  the same for the collectives of LIST (comma list of
//                               names, or "shm": the five that have a shared-memory path)
//   shm_worker large [LIST [BYTES]]  ~BYTES (default ~2.5 MiB) at odd sizes, main dtypes
//                               (LIST: as above)
//   shm_worker loop [KIND]      16 MiB allreduces (or allgathers, broadcasts from rank 1)
//                               until something fails (prints ITER i); KIND small:
//                               batches of 64 queued 8 B allreduces
//   shm_worker small BATCHES    batches of 64 queued small allreduces, allgathers and
//                               broadcasts (1-16 elements), waited on after the batch,
//                               each rank late in turn; every result checked exactly
//   shm_worker rooted ROUNDS    runs of box broadcasts and reduces whose writers run
//                               ahead of late readers; every result checked exactly
//   shm_worker mismatch count|op|kind|barrier   rank 1 disagrees with the others
//   shm_worker mismatch boxcount|boxsize|boxdtype   the same about a one-line allreduce:
//                               2 x i32 on the others; rank 1: 3 x i32 (both fit a
//                               line), 20 x i32 (a round), or 8 x f64 (a round) where
//                               the others run 8 x f32 (a line)
//   shm_worker loop box         one-line allreduces, broadcasts, allgathers and
//                               barriers until something fails (prints ITER i)
//   shm_worker barriers N       N barriers, each rank arriving late in turn
//   shm_worker stall RANK       RANK never joins; the others time out (1 s)
//
// Environment for the cross-memory-attach probe tests (set before init):
//   SHM_WORKER_NOT_DUMPABLE=1   prctl(PR_SET_DUMPABLE, 0): others may not read this process
//   SHM_WORKER_DROP_PTRACE=1    drop CAP_SYS_PTRACE (root could read it anyway)
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cstdio>
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

using check::Coll;

std::vector<Coll> parse_colls(const std::string& list) {
  if (list == "shm")
    return {Coll::allreduce, Coll::reduce, Coll::broadcast, Coll::allgather, Coll::reduce_scatter};
  std::vector<Coll> out;
  size_t at = 0;
  while (at <= list.size()) {
    size_t end = std::min(list.find(',', at), list.size());
    const std::string name = list.substr(at, end - at);
    bool found = false;
    for (Coll c : check::kAllColls)
      if (name == check::to_string(c)) out.push_back(c), found = true;
    if (!found) throw Error(ErrorCode::InvalidArgument, "unknown collective " + name);
    at = end + 1;
  }
  return out;
}

struct Failures {
  Communicator& comm;
  std::string text;
  size_t shift = 0;  // of every case's buffers (check::CheckCase::shift)
  void run(check::CheckCase c) {
    c.shift = shift;
    auto res = check::run_check(comm, c);
    if (res.wrong) text += str(c.describe(), ": ", res.wrong, " wrong: ", res.detail, "; ");
  }
};

// Every dtype x op (x in/out of place) of `colls` at `counts`.
std::string check_colls(Communicator& comm, const std::vector<Coll>& colls,
                        const std::vector<size_t>& counts) {
  Failures f{comm, {}};
  for (Coll c : colls)
    for (DataType t : kAllDataTypes)
      for (ReduceOp op : kAllReduceOps) {
        if (!check::reduces(c) && op != ReduceOp::sum) continue;
        for (size_t count : counts)
          for (bool in_place : {false, true})
            f.run({c, t, op, count, in_place, static_cast<int>((count + 1) % comm.size())});
      }
  return f.text;
}

// Several rounds of the pipeline at sizes that are multiples of nothing.
// `shift`: rank r's buffers start shift * r bytes past malloc's address.
std::string check_large(Communicator& comm, const std::vector<Coll>& colls, size_t bytes,
                        size_t shift) {
  Failures f{comm, {}, shift * static_cast<size_t>(comm.rank())};
  const int last = comm.size() - 1;
  for (Coll c : colls) {
    switch (c) {
      case Coll::allreduce:
        for (DataType t : {DataType::f32, DataType::bf16, DataType::f16, DataType::i32, DataType::u8})
          f.run({c, t, t == DataType::u8 ? ReduceOp::max : ReduceOp::sum, bytes / size_of(t) + 7,
                 t != DataType::f16, 0});
        f.run({c, DataType::bf16, ReduceOp::avg, bytes / 2 + 1, true, 0});
        break;
      case Coll::reduce:
        f.run({c, DataType::f32, ReduceOp::sum, bytes / 4 + 7, false, last});
        f.run({c, DataType::i64, ReduceOp::min, bytes / 8 + 1, true, 0});
        break;
      case Coll::reduce_scatter:
        f.run({c, DataType::f16, ReduceOp::sum, bytes / 2 / 3 + 5, false, 0});
        f.run({c, DataType::i32, ReduceOp::avg, bytes / 4 / 3 + 1, true, 0});
        break;
      case Coll::allgather:
      case Coll::broadcast:
        for (bool in_place : {false, true})
          f.run({c, DataType::u8, ReduceOp::sum, (c == Coll::allgather ? bytes / 3 : bytes) + 3,
                 in_place, 1 % comm.size()});
        break;
      default:
        f.run({c, DataType::f32, ReduceOp::sum, bytes / 4 / 3 + 1, false, 0});
    }
  }
  return f.text;
}

// Batches of small collectives queued back to back and waited on after the
// batch (each rank sleeps before every n-th batch): a rank that leaves a
// round first fills the next one while the others still read the last, and
// each slot half is reused every other round, only once its slowest reader
// has moved on (shm/group.h).
// Rooted box operations, whose roots do not wait for their readers (a
// broadcast's root, a reduce's contributors): runs of broadcasts from one
// root and reduces to another, 40 and 240 bytes (the first box line, five
// lines), with the readers late now and then, so that the writers run ahead
// and must not overwrite a box a reader has yet to read (Group::box_free).
// Every result is checked exactly.
int rooted_boxes(Communicator& comm, int rounds) {
  const int n = comm.size(), r = comm.rank();
  std::string failures;
  auto value = [](int rank, int i, int k, size_t j) {
    return static_cast<int64_t>(rank + 1) * 1000003 + i * 1009 + k * 17 + static_cast<int64_t>(j);
  };
  std::vector<int64_t> buf(30), sum(30);
  for (int i = 0; i < rounds && failures.size() < 200; ++i) {
    const int root = i % n, reduce_root = (i + 1) % n;
    if (r != root && i % 16 == 0) std::this_thread::sleep_for(200us);
    for (int k = 0; k < 8; ++k) {
      const size_t count = k % 2 ? 30 : 5;
      for (size_t j = 0; j < count; ++j) buf[j] = r == root ? value(root, i, k, j) : -1;
      comm.broadcast(buf.data(), count, DataType::i64, root).wait();
      for (size_t j = 0; j < count; ++j)
        if (buf[j] != value(root, i, k, j))
          failures += str("round ", i, " broadcast ", k, " element ", j, ": ", buf[j], "; ");
    }
    for (int k = 8; k < 12; ++k) {
      const size_t count = k % 2 ? 25 : 3;
      for (size_t j = 0; j < count; ++j) buf[j] = value(r, i, k, j);
      std::fill(sum.begin(), sum.end(), -1);
      comm.reduce(buf.data(), sum.data(), count, DataType::i64, ReduceOp::sum, reduce_root).wait();
      if (r != reduce_root) continue;
      for (size_t j = 0; j < count; ++j) {
        int64_t want = 0;
        for (int q = 0; q < n; ++q) want += value(q, i, k, j);
        if (sum[j] != want)
          failures += str("round ", i, " reduce ", k, " element ", j, ": ", sum[j], "; ");
      }
    }
  }
  return report(r, "OK", failures.empty() ? "all passed" : failures, failures.empty());
}

// Values differ per rank, batch and position; every result is checked
// against its exact sum / gathered / broadcast value.
int small_batches(Communicator& comm, int batches) {
  const int n = comm.size(), r = comm.rank();
  constexpr int kPerBatch = 64;
  constexpr size_t kMax = 16;
  std::string failures;
  auto value = [](int rank, int b, int k, size_t j) {
    return static_cast<int64_t>(rank + 1) * 1000003 + b * 1009 + k * 17 + static_cast<int64_t>(j);
  };
  std::vector<std::vector<int64_t>> in(kPerBatch), out(kPerBatch);
  for (int b = 0; b < batches; ++b) {
    if (b % n == r) std::this_thread::sleep_for(1ms);
    std::vector<Work> works;
    for (int k = 0; k < kPerBatch; ++k) {
      const size_t count = 1 + static_cast<size_t>(k + b) % kMax;
      in[k].resize(count);
      for (size_t j = 0; j < count; ++j) in[k][j] = value(r, b, k, j);
      out[k].assign(count * static_cast<size_t>(n), -1);
      switch (k % 3) {
        case 0: works.push_back(comm.allreduce(in[k].data(), out[k].data(), count, DataType::i64, ReduceOp::sum)); break;
        case 1: works.push_back(comm.allgather(in[k].data(), out[k].data(), count, DataType::i64)); break;
        default:
          std::copy(in[k].begin(), in[k].end(), out[k].begin());
          works.push_back(comm.broadcast(out[k].data(), count, DataType::i64, (b + k) % n));
      }
    }
    for (auto& w : works) w.wait();
    for (int k = 0; k < kPerBatch && failures.size() < 200; ++k) {
      const size_t count = in[k].size();
      for (size_t j = 0; j < count; ++j) {
        int64_t want = 0;
        if (k % 3 == 0)
          for (int q = 0; q < n; ++q) want += value(q, b, k, j);
        else if (k % 3 == 2)
          want = value((b + k) % n, b, k, j);
        for (int q = 0; q < (k % 3 == 1 ? n : 1); ++q) {
          if (k % 3 == 1) want = value(q, b, k, j);
          const int64_t got = out[k][static_cast<size_t>(q) * count + j];
          if (got != want)
            failures += str("batch ", b, " op ", k, " element ", q, ":", j, ": ", got,
                            " instead of ", want, "; ");
        }
      }
    }
  }
  return report(r, "OK", failures.empty() ? "all passed" : failures, failures.empty());
}

int run(Communicator& comm, int argc, char** argv) {
  const std::string mode = argv[1];
  const int r = comm.rank();
  if (mode == "matrix") {
    std::vector<size_t> counts;
    for (int i = 2; i < argc; ++i) counts.push_back(std::stoul(argv[i]));
    std::string failures = check::run_matrix(comm, counts);
    return report(r, "OK", failures.empty() ? "all passed" : failures, failures.empty());
  }
  if (mode == "colls") {
    std::vector<size_t> counts;
    for (int i = 3; i < argc; ++i) counts.push_back(std::stoul(argv[i]));
    std::string failures = check_colls(comm, parse_colls(argv[2]), counts);
    return report(r, "OK", failures.empty() ? "all passed" : failures, failures.empty());
  }
  if (mode == "large") {
    // ~2.5 MiB unless given; argv[4]: shift per rank (check_large)
    const size_t bytes = argc > 3 ? std::stoul(argv[3]) : (size_t{5} << 20) / 2 + 4096 * 3 + 1;
    const size_t shift = argc > 4 ? std::stoul(argv[4]) : 0;
    std::string failures = check_large(comm, parse_colls(argc > 2 ? argv[2] : "shm"), bytes, shift);
    return report(r, "OK", failures.empty() ? "all passed" : failures, failures.empty());
  }
  if (mode == "small") return small_batches(comm, std::stoi(argv[2]));
  if (mode == "rooted") return rooted_boxes(comm, std::stoi(argv[2]));
  if (mode == "loop" && argc > 2 && std::string(argv[2]) == "small") {
    std::vector<int64_t> in(64), out(64);
    for (int i = 0;; ++i) {
      std::vector<Work> works;
      for (size_t k = 0; k < in.size(); ++k)
        works.push_back(comm.allreduce(&in[k], &out[k], 1, DataType::i64, ReduceOp::sum));
      for (auto& w : works) w.wait();
      std::printf("ITER %d\n", i);
      std::fflush(stdout);
    }
  }
  if (mode == "loop" && argc > 2 && std::string(argv[2]) == "box") {
    const int n = comm.size();
    std::vector<float> in(4, 1.0f), out(4 * static_cast<size_t>(n));
    for (int i = 0;; ++i) {
      std::vector<Work> works;
      for (int k = 0; k < 16; ++k) {
        works.push_back(comm.allreduce(in.data(), out.data(), 4, DataType::f32, ReduceOp::sum));
        works.push_back(comm.broadcast(out.data(), 4, DataType::f32, k % n));
        works.push_back(comm.allgather(in.data(), out.data(), 4, DataType::f32));
        works.push_back(comm.barrier());
      }
      for (auto& w : works) w.wait();
      std::printf("ITER %d\n", i);
      std::fflush(stdout);
    }
  }
  if (mode == "loop") {
    const std::string kind = argc > 2 ? argv[2] : "allreduce";
    const size_t count = size_t{4} << 20;  // 16 MiB of f32
    std::vector<float> buf(count * (kind == "allgather" ? static_cast<size_t>(comm.size()) : 1), 1.0f);
    for (int i = 0;; ++i) {
      if (kind == "allgather")
        comm.allgather(buf.data() + static_cast<size_t>(r) * count, buf.data(), count, DataType::f32).wait();
      else if (kind == "broadcast")
        comm.broadcast(buf.data(), count, DataType::f32, 1 % comm.size()).wait();
      else
        comm.allreduce(buf.data(), buf.data(), count, DataType::f32, ReduceOp::sum).wait();
      std::printf("ITER %d\n", i);
      std::fflush(stdout);
    }
  }
  if (mode == "mismatch") {
    const std::string what = argv[2];
    std::vector<int32_t> buf(1000 * static_cast<size_t>(comm.size()), 1);
    if (what.rfind("box", 0) == 0) {
      size_t count = 2;
      DataType type = DataType::i32;
      if (what == "boxdtype") count = 8, type = r == 1 ? DataType::f64 : DataType::f32;
      if (r == 1 && what == "boxcount") count = 3;
      if (r == 1 && what == "boxsize") count = 77;  // 308 bytes: a round
      if (what == "boxbytes") count = r == 1 ? 301 : 300, type = DataType::i8;
      comm.allreduce(buf.data(), buf.data(), count, type, ReduceOp::sum).wait();
    } else if (r == 1 && what == "kind") {
      comm.allgather(buf.data(), buf.data(), 1000, DataType::i32).wait();
    } else if (r == 1 && what == "barrier") {
      comm.barrier().wait();
    } else {
      size_t count = (what == "count" && r == 1) ? 999 : 1000;
      ReduceOp op = (what == "op" && r == 1) ? ReduceOp::max : ReduceOp::sum;
      comm.allreduce(buf.data(), buf.data(), count, DataType::i32, op).wait();
    }
    return report(r, "OK", "no error", false);
  }
  if (mode == "barriers") {
    // Rank i % n sleeps before barrier i: nobody may leave it before then.
    const int rounds = std::stoi(argv[2]);
    int early = 0;
    for (int i = 0; i < rounds; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      if (i % comm.size() == r) std::this_thread::sleep_for(50ms);
      comm.barrier().wait();
      if (std::chrono::steady_clock::now() - t0 < 25ms) ++early;  // slack for scheduling
    }
    return report(r, "OK", str(early, " barriers left early"), early == 0);
  }
  if (mode == "stall") return weft::test::stall_mode(comm, std::stoi(argv[2]));
  return report(r, "OK", "unknown mode " + mode, false);
}

// Makes this process unreadable by its peers' cross-memory attach.
void apply_probe_env() {
  if (std::getenv("SHM_WORKER_NOT_DUMPABLE")) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (std::getenv("SHM_WORKER_DROP_PTRACE")) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capget, &header, data) == 0) {
      data[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32));
      ::syscall(SYS_capset, &header, data);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  apply_probe_env();
  return weft::test::worker_main("shm_worker", argc, argv, run);
}
