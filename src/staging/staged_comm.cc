#include "staging/staged_comm.h"

#include <algorithm>

#include "comm/work_state.h"
#include "coll/op_desc.h"
#include "transport/transport.h"
#include "comm/comm_impl.h"
#include "weft/env.h"
#include "weft/log.h"
#include "weft/reduce.h"

namespace weft::staging {
namespace {

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

const char* cp(const void* p) { return static_cast<const char*>(p); }
char* mp(void* p) { return static_cast<char*>(p); }

}  // namespace

StagingConfig StagingConfig::from_env(std::chrono::milliseconds timeout) {
  StagingConfig c;
  c.chunk_bytes = static_cast<size_t>(env::get_int("WEFT_STAGE_CHUNK_BYTES"));
  c.slots = static_cast<int>(env::get_int("WEFT_STAGE_SLOTS"));
  WEFT_REQUIRE(c.chunk_bytes >= 4096 && c.chunk_bytes % 64 == 0,
               "WEFT_STAGE_CHUNK_BYTES must be a multiple of 64, at least 4096 (got ",
               c.chunk_bytes, ")");
  WEFT_REQUIRE(c.slots >= 2 && c.slots <= 64, "WEFT_STAGE_SLOTS must be in [2, 64] (got ",
               c.slots, ")");
  c.timeout = timeout;
  return c;
}

// A collective slot holds a chunk twice over: alltoall stages its input in
// the first half and receives into the second; the other collectives use
// the first. Send and receive slots hold one chunk.
StagedDeviceComm::StagedDeviceComm(Communicator host, std::shared_ptr<StreamOps> ops,
                                   StagingConfig config, std::string label, int avg_over)
    : host_(std::move(host)),
      ops_(std::move(ops)),
      config_(config),
      label_(std::move(label)),
      avg_over_(avg_over),
      rank_(host_.rank()),
      size_(host_.size()) {
  words_ = static_cast<ControlWords*>(ops_->alloc_host(sizeof(ControlWords) * kLanes));
  lanes_[static_cast<int>(Lane::collective)].slot_bytes = 2 * config_.chunk_bytes;
  lanes_[static_cast<int>(Lane::send)].slot_bytes = config_.chunk_bytes;
  lanes_[static_cast<int>(Lane::recv)].slot_bytes = config_.chunk_bytes;
  proxy_ = std::make_unique<Proxy>(words_, rank_, config_.timeout);
  // However this part fails, its host communicator fails too, which tells
  // its peers: they must not wait for chunks this rank will never send.
  proxy_->set_on_failure([this](const Error& e) {
    host_.impl().transport().fail(e.code(), e.message());
    std::lock_guard lock(sibling_mu_);
    if (sibling_) sibling_(e);
  });
  WEFT_INFO("staging", "rank ", rank_, ": ", label_, " staging over ", size_, " ranks: ",
            config_.slots, " slots of ", config_.chunk_bytes, " bytes per lane in pinned host memory");
}

StagedDeviceComm::~StagedDeviceComm() {
  // Release every stream wait before the words go away.
  std::atomic_ref<uint64_t>(words_[0].abort).store(1, std::memory_order_release);
  proxy_.reset();
  for (auto& lane : lanes_)
    if (lane.slots) ops_->free_host(lane.slots);
  ops_->free_host(words_);
}

void StagedDeviceComm::abort(const std::string& reason) {
  fail(Error(ErrorCode::Aborted, str("rank ", rank_, ": ", label_, " staging aborted: ", reason)));
}

void StagedDeviceComm::fail(const Error& cause) { proxy_->fail(cause); }

void StagedDeviceComm::set_on_failure(std::function<void(const Error&)> callback) {
  std::lock_guard lock(sibling_mu_);
  sibling_ = std::move(callback);
}

std::string StagedDeviceComm::describe(const char* name, size_t count, DataType type) {
  return str(label_, " ", name, " #", next_seq_++, " (", coll::format_bytes(count * size_of(type)),
             " ", to_string(type), ", staged)");
}

size_t StagedDeviceComm::chunk_elems(DataType type, size_t blocks) const {
  return std::max<size_t>(1, config_.chunk_bytes / blocks / size_of(type));
}

Work StagedDeviceComm::run(Lane lane_id, const std::string& what, size_t chunks,
                           const StageFn& in, const HostFn& host, const StageFn& out,
                           void* stream, const StageFn& after) {
  if (auto f = proxy_->failure()) throw *f;
  if (ops_->capturing(stream))
    throw_error(ErrorCode::Unsupported,
                str("rank ", rank_, ": ", what, ": staged (cross-host) operations cannot be "
                    "captured in a CUDA graph"));
  auto state = std::make_shared<Work::State>(what);
  if (chunks == 0) {
    state->complete();
    return Work(state);
  }
  const size_t slots = static_cast<size_t>(config_.slots);
  const int index = static_cast<int>(lane_id);
  ControlWords& words = words_[index];
  const uint64_t* abort = &words_[0].abort;
  std::lock_guard lock(enqueue_mu_);
  LaneSlots& lane = lanes_[index];
  if (!lane.slots) lane.slots = static_cast<char*>(ops_->alloc_host(lane.slot_bytes * slots));
  const uint64_t first = lane.next_chunk;
  const uint64_t last = first + chunks - 1;
  auto slot = [&](size_t k) { return lane.slots + (k % slots) * lane.slot_bytes; };

  std::vector<Proxy::Job> jobs;
  for (size_t k = 0; k < chunks; ++k) {
    char* s = slot(k);
    std::function<void()> then;
    if (after) then = [after, k, s] { after(k, s); };
    jobs.push_back({lane_id, first + k, [host, k, s] { return host(k, s); }, std::move(then),
                    str(what, " chunk ", k + 1, "/", chunks)});
  }
  proxy_->push(std::move(jobs));

  // The slots are free once the lane's previous operation drained them.
  ops_->wait(&words.drained, lane.last_drained, abort, stream);
  auto drain = [&](size_t k) {
    ops_->wait(&words.done, first + k, abort, stream);
    out(k, slot(k));
  };
  for (size_t k = 0; k < chunks; ++k) {
    if (k >= slots) drain(k - slots);  // chunk k reuses chunk k - slots's slot
    in(k, slot(k));
    ops_->signal(&words.ready, first + k, stream);
  }
  for (size_t k = chunks > slots ? chunks - slots : 0; k < chunks; ++k) drain(k);
  ops_->signal(&words.drained, last, stream);
  lane.next_chunk = last + 1;
  lane.last_drained = last;

  auto marker = ops_->marker(stream, what);
  Proxy* proxy = proxy_.get();
  state->set_poller([proxy, lane_id, marker, last, what] {
    if (proxy->finished(lane_id) >= last && marker()) return true;
    if (auto f = proxy->failure())
      throw Error(f->code(), str(what, ": ", f->message()));
    return false;
  });
  return Work(state);
}

StagedDeviceComm::StageFn StagedDeviceComm::divide(ReduceOp op, DataType type,
                                                   std::function<size_t(size_t)> m,
                                                   std::function<size_t(size_t)> offset) const {
  if (op != ReduceOp::avg || !avg_over_) return {};
  const int n = avg_over_;
  const size_t es = size_of(type);
  return [=](size_t k, char* s) { scale_for_average(s + offset(k) * es, m(k), type, n); };
}

// --- the collectives -----------------------------------------------------------------
// Chunk k of a flat buffer covers elements [k * c, k * c + m).

Work StagedDeviceComm::allreduce(const void* in, void* out, size_t count, DataType type,
                                 ReduceOp op, void* stream) {
  const size_t es = size_of(type), c = chunk_elems(type, 1);
  auto m = [=](size_t k) { return std::min(c, count - k * c); };
  return run(
      Lane::collective, describe("allreduce", count, type), ceil_div(count, c),
      [=, this](size_t k, char* s) { ops_->copy(s, cp(in) + k * c * es, m(k) * es, stream); },
      [=, this](size_t k, char* s) { return host_.allreduce(s, s, m(k), type, host_op(op)); },
      [=, this](size_t k, char* s) { ops_->copy(mp(out) + k * c * es, s, m(k) * es, stream); },
      stream, divide(op, type, m, [](size_t) { return size_t{0}; }));
}

Work StagedDeviceComm::reduce(const void* in, void* out, size_t count, DataType type,
                              ReduceOp op, int root, void* stream) {
  const size_t es = size_of(type), c = chunk_elems(type, 1);
  auto m = [=](size_t k) { return std::min(c, count - k * c); };
  const bool is_root = rank_ == root;
  return run(
      Lane::collective, describe("reduce", count, type), ceil_div(count, c),
      [=, this](size_t k, char* s) { ops_->copy(s, cp(in) + k * c * es, m(k) * es, stream); },
      [=, this](size_t k, char* s) { return host_.reduce(s, s, m(k), type, host_op(op), root); },
      [=, this](size_t k, char* s) {
        if (is_root) ops_->copy(mp(out) + k * c * es, s, m(k) * es, stream);
      },
      stream, is_root ? divide(op, type, m, [](size_t) { return size_t{0}; }) : StageFn{});
}

Work StagedDeviceComm::broadcast(void* buf, size_t count, DataType type, int root, void* stream) {
  const size_t es = size_of(type), c = chunk_elems(type, 1);
  auto m = [=](size_t k) { return std::min(c, count - k * c); };
  const bool is_root = rank_ == root;
  return run(
      Lane::collective, describe("broadcast", count, type), ceil_div(count, c),
      [=, this](size_t k, char* s) {
        if (is_root) ops_->copy(s, mp(buf) + k * c * es, m(k) * es, stream);
      },
      [=, this](size_t k, char* s) { return host_.broadcast(s, m(k), type, root); },
      [=, this](size_t k, char* s) {
        if (!is_root) ops_->copy(mp(buf) + k * c * es, s, m(k) * es, stream);
      },
      stream);
}

// The blocked collectives take chunk k of every rank's block at once: the
// slot holds size blocks of m elements, gathered from (or scattered to) the
// device buffer's blocks with one strided copy.
Work StagedDeviceComm::allgather(const void* in, void* out, size_t count, DataType type,
                                 void* stream) {
  const size_t es = size_of(type), n = static_cast<size_t>(size_), r = static_cast<size_t>(rank_);
  const size_t c = chunk_elems(type, n);
  auto m = [=](size_t k) { return std::min(c, count - k * c); };
  return run(
      Lane::collective, describe("allgather", count, type), ceil_div(count, c),
      [=, this](size_t k, char* s) {
        ops_->copy(s + r * m(k) * es, cp(in) + k * c * es, m(k) * es, stream);
      },
      [=, this](size_t k, char* s) { return host_.allgather(s + r * m(k) * es, s, m(k), type); },
      [=, this](size_t k, char* s) {
        ops_->copy(mp(out) + k * c * es, count * es, s, m(k) * es, m(k) * es, n, stream);
      },
      stream);
}

Work StagedDeviceComm::reduce_scatter(const void* in, void* out, size_t recv_count, DataType type,
                                      ReduceOp op, void* stream) {
  const size_t es = size_of(type), n = static_cast<size_t>(size_), r = static_cast<size_t>(rank_);
  const size_t c = chunk_elems(type, n);
  auto m = [=](size_t k) { return std::min(c, recv_count - k * c); };
  return run(
      Lane::collective, describe("reduce_scatter", recv_count, type), ceil_div(recv_count, c),
      [=, this](size_t k, char* s) {
        ops_->copy(s, m(k) * es, cp(in) + k * c * es, recv_count * es, m(k) * es, n, stream);
      },
      [=, this](size_t k, char* s) {
        return host_.reduce_scatter(s, s + r * m(k) * es, m(k), type, host_op(op));
      },
      [=, this](size_t k, char* s) {
        ops_->copy(mp(out) + k * c * es, s + r * m(k) * es, m(k) * es, stream);
      },
      stream, divide(op, type, m, [=](size_t k) { return r * m(k); }));
}

Work StagedDeviceComm::alltoall(const void* in, void* out, size_t count, DataType type,
                                void* stream) {
  const size_t es = size_of(type), n = static_cast<size_t>(size_);
  const size_t c = chunk_elems(type, n), half = config_.chunk_bytes;
  auto m = [=](size_t k) { return std::min(c, count - k * c); };
  return run(
      Lane::collective, describe("alltoall", count, type), ceil_div(count, c),
      [=, this](size_t k, char* s) {
        ops_->copy(s, m(k) * es, cp(in) + k * c * es, count * es, m(k) * es, n, stream);
      },
      [=, this](size_t k, char* s) { return host_.alltoall(s, s + half, m(k), type); },
      [=, this](size_t k, char* s) {
        ops_->copy(mp(out) + k * c * es, count * es, s + half, m(k) * es, m(k) * es, n, stream);
      },
      stream);
}

Work StagedDeviceComm::send(const void* buf, size_t count, DataType type, int peer, void* stream) {
  const size_t es = size_of(type), c = chunk_elems(type, 1);
  auto m = [=](size_t k) { return std::min(c, count - k * c); };
  return run(
      Lane::send, describe("send", count, type), ceil_div(count, c),
      [=, this](size_t k, char* s) { ops_->copy(s, cp(buf) + k * c * es, m(k) * es, stream); },
      [=, this](size_t k, char* s) { return host_.send(s, m(k), type, peer); },
      [](size_t, char*) {}, stream);
}

Work StagedDeviceComm::recv(void* buf, size_t count, DataType type, int peer, void* stream) {
  const size_t es = size_of(type), c = chunk_elems(type, 1);
  auto m = [=](size_t k) { return std::min(c, count - k * c); };
  return run(
      Lane::recv, describe("recv", count, type), ceil_div(count, c), [](size_t, char*) {},
      [=, this](size_t k, char* s) { return host_.recv(s, m(k), type, peer); },
      [=, this](size_t k, char* s) { ops_->copy(mp(buf) + k * c * es, s, m(k) * es, stream); },
      stream);
}

}  // namespace weft::staging
