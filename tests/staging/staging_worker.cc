// One rank of the staging tests (spawned by staging_test.cc through
// RankGroup, with WEFT_HOST_ID faking hosts). Host memory stands in for the
// GPU: HostStreamOps for the streams and copies, HostDeviceComm for the
// communicator inside a host. Everything else is what a CUDA communicator
// across hosts runs: make_multihost_device_comm, the staged pipeline and its
// proxy, the hierarchical composition.
//
//   staging_worker check       every collective, dtype, op, size (multi-chunk
//                              with WEFT_STAGE_CHUNK_BYTES=4096), in and out
//                              of place, roots; point-to-point in a ring
//   staging_worker kill RANK   RANK exits during the second allreduce; the
//                              others report the error they get
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "collcheck.h"
#include "host_device_comm.h"
#include "rank_report.h"
#include "staging/hier_comm.h"
#include "topo/host_identity.h"
#include "weft/communicator.h"
#include "weft/env.h"

using namespace weft;
using namespace weft::check;

namespace {

std::vector<std::string> host_ids(Communicator& comm) {
  constexpr size_t kLen = 128;
  std::vector<char> mine(kLen, 0), all(kLen * static_cast<size_t>(comm.size()));
  const std::string id = topo::host_identity();
  std::memcpy(mine.data(), id.data(), std::min(id.size(), kLen - 1));
  comm.allgather(mine.data(), all.data(), kLen, DataType::u8).wait();
  std::vector<std::string> ids;
  for (int r = 0; r < comm.size(); ++r) ids.emplace_back(all.data() + static_cast<size_t>(r) * kLen);
  return ids;
}

struct Rig {
  std::shared_ptr<staging::HostStreamOps> ops = std::make_shared<staging::HostStreamOps>();
  std::unique_ptr<DeviceComm> dev;
  Rig(Communicator& host) {
    staging::MultiHostParts parts;
    parts.ops = ops;
    auto host_ops = ops;
    parts.make_intra = [host_ops](Communicator& world, int host_index, int, int) {
      return std::make_unique<test::HostDeviceComm>(world.split(host_index, world.rank()), host_ops);
    };
    dev = staging::make_multihost_device_comm(
        host, staging::HostLayout::from_host_ids(host_ids(host)), parts,
        staging::StagingConfig::from_env(std::chrono::seconds(30)));
  }
};

struct Buf {
  DataType t;
  std::vector<char> bytes;
  Buf(DataType type, size_t n) : t(type), bytes(n * size_of(type) + 1) {}
  void* data() { return bytes.data(); }
  void* at(size_t elems) { return bytes.data() + elems * size_of(t); }
  void put(size_t i, int64_t v) { put_value(bytes.data(), i, t, v); }
  double get(size_t i) const { return get_value(bytes.data(), i, t); }
};

struct Checker {
  int rank, n;
  std::string failures;
  size_t cases = 0;
  // Compares element i of `got` with `want`; records the first miss per case.
  bool expect(const std::string& what, const Buf& got, size_t i, size_t gi, double want, double tol) {
    const double g = got.get(gi);
    const double err = std::abs(g - want);
    if (err <= tol * std::max(1.0, std::abs(want))) return true;
    failures += str(what, ": element ", i, " is ", g, ", expected ", want, "; ");
    return false;
  }
};

void check_all(DeviceComm& dev, int rank, int n, Checker& ck) {
  const DataType types[] = {DataType::f32, DataType::i32, DataType::bf16};
  const ReduceOp ops[] = {ReduceOp::sum, ReduceOp::max, ReduceOp::avg};
  const size_t counts[] = {1, 3, 1000, 5003};  // 5003 f32: 5 chunks of 4 KiB, odd tail
  staging::HostStream stream;
  void* s = &stream;
  for (DataType t : types)
    for (size_t count : counts)
      for (bool in_place : {false, true}) {
        for (ReduceOp op : ops) {
          const std::string tag = str(to_string(t), " ", count, in_place ? " in place" : "", " ",
                                      to_string(op));
          double tol = 0;
          // allreduce
          {
            Buf in(t, count), out(t, count);
            for (size_t i = 0; i < count; ++i) in.put(i, input_value(rank, i, op, true));
            Buf& dst = in_place ? in : out;
            dev.allreduce(in.data(), dst.data(), count, t, op, s).wait();
            for (size_t i = 0; i < count; ++i)
              if (!ck.expect("allreduce " + tag, dst, i, i, reduced_value(t, op, n, i, &tol), tol)) break;
            ++ck.cases;
          }
          // reduce_scatter: count per rank
          {
            Buf in(t, count * n), out(t, count);
            for (size_t i = 0; i < count * n; ++i) in.put(i, input_value(rank, i, op, true));
            void* dst = in_place ? in.at(static_cast<size_t>(rank) * count) : out.data();
            dev.reduce_scatter(in.data(), dst, count, t, op, s).wait();
            const Buf& got = in_place ? in : out;
            const size_t base = in_place ? static_cast<size_t>(rank) * count : 0;
            for (size_t i = 0; i < count; ++i) {
              const double want = reduced_value(t, op, n, static_cast<size_t>(rank) * count + i, &tol);
              if (!ck.expect("reduce_scatter " + tag, got, i, base + i, want, tol)) break;
            }
            ++ck.cases;
          }
          if (in_place) continue;
          // reduce, to the first and the last rank
          for (int root : {0, n - 1}) {
            Buf in(t, count), out(t, count);
            for (size_t i = 0; i < count; ++i) in.put(i, input_value(rank, i, op, true));
            dev.reduce(in.data(), out.data(), count, t, op, root, s).wait();
            if (rank == root)
              for (size_t i = 0; i < count; ++i)
                if (!ck.expect(str("reduce root ", root, " ", tag), out, i, i,
                               reduced_value(t, op, n, i, &tol), tol))
                  break;
            ++ck.cases;
          }
        }
        // data movement (one op)
        const std::string tag = str(to_string(t), " ", count, in_place ? " in place" : "");
        {
          Buf in(t, count), out(t, count * n);
          for (size_t i = 0; i < count; ++i) in.put(i, input_value(rank, i, ReduceOp::sum, false));
          if (in_place) {
            for (size_t i = 0; i < count; ++i)
              out.put(static_cast<size_t>(rank) * count + i, input_value(rank, i, ReduceOp::sum, false));
            dev.allgather(out.at(static_cast<size_t>(rank) * count), out.data(), count, t, s).wait();
          } else {
            dev.allgather(in.data(), out.data(), count, t, s).wait();
          }
          for (int q = 0; q < n; ++q)
            for (size_t i = 0; i < count; ++i)
              if (!ck.expect(str("allgather from ", q, " ", tag), out, i, static_cast<size_t>(q) * count + i,
                             as_stored(t, input_value(q, i, ReduceOp::sum, false)), 0)) {
                q = n;
                break;
              }
          ++ck.cases;
        }
        if (in_place) continue;
        for (int root : {0, n - 1}) {
          Buf buf(t, count);
          for (size_t i = 0; i < count; ++i)
            buf.put(i, rank == root ? input_value(root, i, ReduceOp::sum, false) : 0);
          dev.broadcast(buf.data(), count, t, root, s).wait();
          for (size_t i = 0; i < count; ++i)
            if (!ck.expect(str("broadcast root ", root, " ", tag), buf, i, i,
                           as_stored(t, input_value(root, i, ReduceOp::sum, false)), 0))
              break;
          ++ck.cases;
        }
        {
          Buf in(t, count * n), out(t, count * n);
          for (size_t i = 0; i < count * n; ++i) in.put(i, input_value(rank, i, ReduceOp::sum, false));
          dev.alltoall(in.data(), out.data(), count, t, s).wait();
          for (int q = 0; q < n; ++q)
            for (size_t i = 0; i < count; ++i) {
              const size_t from = static_cast<size_t>(rank) * count + i;
              if (!ck.expect(str("alltoall from ", q, " ", tag), out, i, static_cast<size_t>(q) * count + i,
                             as_stored(t, input_value(q, from, ReduceOp::sum, false)), 0)) {
                q = n;
                break;
              }
            }
          ++ck.cases;
        }
        {
          // A ring shift, every rank posting its receive first (on another
          // stream): the receive must not hold up the send.
          staging::HostStream recv_stream;
          const int next = (rank + 1) % n, prev = (rank + n - 1) % n;
          Buf out(t, count), in(t, count);
          for (size_t i = 0; i < count; ++i) out.put(i, input_value(rank, i, ReduceOp::sum, false));
          Work got = dev.recv(in.data(), count, t, prev, &recv_stream);
          Work sent = dev.send(out.data(), count, t, next, s);
          got.wait();
          sent.wait();
          for (size_t i = 0; i < count; ++i)
            if (!ck.expect(str("recv from ", prev, " ", tag), in, i, i,
                           as_stored(t, input_value(prev, i, ReduceOp::sum, false)), 0))
              break;
          ++ck.cases;
        }
      }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "check";
  int rank = -1;
  try {
    Communicator host = Communicator::init_from_env();
    rank = host.rank();
    const int n = host.size();
    Rig rig(host);
    if (mode == "check") {
      Checker ck{rank, n, "", 0};
      check_all(*rig.dev, rank, n, ck);
      if (!ck.failures.empty()) return test::report(rank, "WRONG", ck.failures.substr(0, 2000), false);
      return test::report(rank, "OK", str(ck.cases, " cases"), true);
    }
    if (mode == "kill") {
      const int victim = std::stoi(argv[2]);
      const size_t count = 1 << 16;  // 256 KiB f32: many 4 KiB chunks
      std::vector<float> buf(count, 1.0f);
      try {
        for (int iter = 0;; ++iter) {
          if (iter == 1 && rank == victim) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            ::_exit(9);  // mid-operation: the others are inside the second allreduce
          }
          rig.dev->allreduce(buf.data(), buf.data(), count, DataType::f32, ReduceOp::sum, nullptr)
              .wait();
          if (iter > 200) return test::report(rank, "OK", "no failure seen", false);
        }
      } catch (const Error&) {
        // The failed operation's copies may still be queued on the stream (as
        // on a GPU): let them drain before `buf` goes away. The stream's waits
        // return once the failure raised the abort words.
        rig.ops->stream_of(nullptr).synchronize();
        throw;
      }
    }
    return test::report(rank, "USAGE", "unknown mode " + mode, false);
  } catch (const Error& e) {
    return test::report(rank, to_string(e.code()), e.message(), mode == "kill");
  }
}
