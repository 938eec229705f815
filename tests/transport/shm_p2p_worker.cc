// One rank of the shared-memory point-to-point tests (shm_p2p_test.cc),
// spawned N times with RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT. It
// prints one line
//   RESULT rank=R code=OK|<ErrorCode> t_ms=<epoch ms> msg=<message>
// and exits 0 when its own checks passed.
//
//   shm_p2p_worker pairs ROUNDS   every pair, 4 tags, 0 B .. 5 MiB, posts shuffled
//   shm_p2p_worker colls          alltoall(v), gather, scatter, allgatherv checks
//   shm_p2p_worker ring BYTES     send to r+1 / recv from r-1 until something fails
//   shm_p2p_worker mismatch       rank 0 sends 1000 x i32, rank 1 expects 999 (posted late)
//   shm_p2p_worker leave          rank 1 leaves while rank 0 expects a message
//   shm_p2p_worker freed ROUNDS BYTES unmap|overwrite
//                                 rank 0's receive of BYTES from rank 1 times out
//                                 mid-transfer; its buffer is unmapped or overwritten
//                                 at once (no byte may land after)
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
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

// Sizes from empty to larger than a ring (1 MiB at most by default).
constexpr size_t kSizes[] = {0, 1, 7, 4093, 65539, 300000, (size_t{1} << 20) + 5,
                             (size_t{5} << 20) + 3};
constexpr int kSizeCount = sizeof kSizes / sizeof kSizes[0];
constexpr int kTags = 4;
constexpr int kPerTag = 8;  // messages per (pair, tag, round)

size_t size_of_message(int tag, int k) { return kSizes[(tag * 3 + k) % kSizeCount]; }
uint8_t byte_of(int src, int dst, int tag, int k, size_t i) {
  return static_cast<uint8_t>(src * 31 + dst * 17 + tag * 7 + k * 13 + static_cast<int>(i % 251));
}

// Every rank sends kPerTag messages per tag to every other rank and receives
// as many, all posted at once in an order shuffled differently on every
// rank. The k-th message of a (peer, tag) is the k-th posted for it, on
// both sides, whatever the interleaving.
int pairs(Communicator& comm, int rounds) {
  const int r = comm.rank(), n = comm.size();
  size_t wrong = 0, messages = 0;
  std::string first;
  for (int round = 0; round < rounds; ++round) {
    struct Token { int peer, tag; bool send; };
    std::vector<Token> tokens;
    for (int p = 0; p < n; ++p)
      for (int tag = 0; tag < kTags && p != r; ++tag)
        for (int k = 0; k < kPerTag; ++k) {
          tokens.push_back({p, tag, true});
          tokens.push_back({p, tag, false});
        }
    std::mt19937 rng(static_cast<unsigned>(r * 1000 + round));
    std::shuffle(tokens.begin(), tokens.end(), rng);
    struct Posted { int peer, tag, k; bool send; std::vector<uint8_t> buf; Work work; };
    std::vector<Posted> posted;
    posted.reserve(tokens.size());
    std::vector<int> next(static_cast<size_t>(n * kTags * 2), 0);
    for (const Token& t : tokens) {
      int& k = next[static_cast<size_t>((t.peer * kTags + t.tag) * 2 + (t.send ? 1 : 0))];
      Posted p{t.peer, t.tag, k++, t.send, {}, Work()};
      const size_t bytes = size_of_message(t.tag, p.k);
      p.buf.resize(bytes);
      if (t.send)
        for (size_t i = 0; i < bytes; ++i) p.buf[i] = byte_of(r, t.peer, t.tag, p.k, i);
      posted.push_back(std::move(p));
      Posted& q = posted.back();
      // The user tag says which round and which tag, so rounds never match.
      const uint32_t tag = static_cast<uint32_t>(round * kTags + t.tag);
      q.work = t.send ? comm.send(q.buf.data(), q.buf.size(), DataType::u8, t.peer, tag)
                      : comm.recv(q.buf.data(), q.buf.size(), DataType::u8, t.peer, tag);
    }
    for (auto& p : posted) p.work.wait();
    for (auto& p : posted) {
      if (p.send) continue;
      ++messages;
      for (size_t i = 0; i < p.buf.size(); ++i)
        if (p.buf[i] != byte_of(p.peer, r, p.tag, p.k, i)) {
          if (!wrong++)
            first = str("from rank ", p.peer, " tag ", p.tag, " #", p.k, " byte ", i);
          break;
        }
    }
  }
  return report(r, "OK", str(messages, " messages received, ", wrong, " wrong ", first),
                wrong == 0);
}

int colls(Communicator& comm) {
  std::string failures;
  for (check::Coll c : {check::Coll::alltoall, check::Coll::alltoallv, check::Coll::gather,
                        check::Coll::scatter, check::Coll::allgatherv})
    for (size_t count : {size_t{0}, size_t{1}, size_t{1031}, size_t{300000}})
      for (int root : {0, comm.size() - 1}) {
        check::CheckCase cc{c, DataType::f32, ReduceOp::sum, count, false, root};
        auto res = check::run_check(comm, cc);
        if (res.wrong) failures += cc.describe() + ": " + res.detail + "; ";
      }
  return report(comm.rank(), "OK", failures.empty() ? "all passed" : failures, failures.empty());
}

int ring(Communicator& comm, size_t bytes) {
  const int r = comm.rank(), n = comm.size();
  std::vector<uint8_t> out(bytes, static_cast<uint8_t>(r)), in(bytes);
  for (int iter = 0;; ++iter) {
    Work recv = comm.recv(in.data(), bytes, DataType::u8, (r + n - 1) % n, 0);
    Work send = comm.send(out.data(), bytes, DataType::u8, (r + 1) % n, 0);
    send.wait();
    recv.wait();
    std::printf("ITER %d\n", iter);
    std::fflush(stdout);
  }
}

int mismatch(Communicator& comm) {
  const int r = comm.rank();
  std::vector<int32_t> buf(1000, 5);
  if (r == 0) comm.send(buf.data(), 1000, DataType::i32, 1, 7).wait();
  if (r == 1) {
    std::this_thread::sleep_for(300ms);  // the message is there before the receive
    comm.recv(buf.data(), 999, DataType::i32, 0, 7).wait();
  }
  comm.barrier().wait();
  return report(r, "OK", "no mismatch seen", false);
}

int leave(Communicator& comm) {
  const int r = comm.rank();
  if (r == 1) return report(r, "OK", "left", true);
  int32_t x = 0;
  OpOptions o;
  o.timeout = 20s;
  comm.recv(&x, 1, DataType::i32, 1, 3, o).wait();
  return report(r, "OK", "received what nobody sent", false);
}

// Each round on a communicator of its own (a failure is sticky): rank 1
// sends BYTES, rank 0 receives them with a 2 ms timeout, far shorter than
// the transfer. As soon as the error reaches rank 0 its buffer is
//   unmap:     unmapped: a byte landing after kills the process (SIGSEGV);
//   overwrite: filled with 0xee, and checked 20 ms later (a kernel copy
//              into an unmapped buffer, as recv() does, fails quietly).
int freed(int r, int rounds, size_t bytes, const std::string& how) {
  int timed_out = 0;
  std::vector<uint8_t> out(r == 1 ? bytes : 0, 7);
  for (int round = 0; round < rounds; ++round) {
    CommOptions co;
    co.name = "freed-" + std::to_string(round);
    Communicator comm = Communicator::init_from_env(co);
    try {
      if (r == 1) {
        comm.send(out.data(), bytes, DataType::u8, 0, 1).wait();
        continue;
      }
      void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (mapped == MAP_FAILED) return report(r, "OK", "mmap failed", false);
      auto* in = static_cast<uint8_t*>(mapped);
      OpOptions o;
      o.timeout = 2ms;
      try {
        comm.recv(in, bytes, DataType::u8, 1, 1, o).wait();
      } catch (const Error& e) {
        if (how == "unmap") ::munmap(in, bytes);
        if (how == "overwrite") std::memset(in, 0xee, bytes);
        if (e.code() != ErrorCode::Timeout) throw;
        ++timed_out;
        std::this_thread::sleep_for(20ms);  // the progress thread goes on meanwhile
        if (how == "overwrite") {
          const size_t late = static_cast<size_t>(
              std::find_if(in, in + bytes, [](uint8_t b) { return b != 0xee; }) - in);
          ::munmap(in, bytes);
          if (late != bytes)
            return report(r, "OK", str("round ", round, ": byte ", late, " landed after the failure"), false);
        }
        continue;
      }
      ::munmap(in, bytes);
    } catch (const Error& e) {
      if (r == 0 || e.code() != ErrorCode::Timeout)
        return report(r, to_string(e.code()), e.message(), false);
    }
  }
  return report(r, "OK", str(timed_out, " of ", rounds, " receives timed out"), true);
}

int run(Communicator& comm, int argc, char** argv) {
  const std::string mode = argv[1];
  if (mode == "pairs") return pairs(comm, argc > 2 ? std::stoi(argv[2]) : 1);
  if (mode == "colls") return colls(comm);
  if (mode == "ring") return ring(comm, std::stoul(argv[2]));
  if (mode == "mismatch") return mismatch(comm);
  if (mode == "leave") return leave(comm);
  if (mode == "freed") return freed(comm.rank(), std::stoi(argv[2]), std::stoul(argv[3]), argv[4]);
  return report(comm.rank(), "OK", "unknown mode " + mode, false);
}

}  // namespace

int main(int argc, char** argv) {
  return weft::test::worker_main("shm_p2p_worker", argc, argv, run);
}
