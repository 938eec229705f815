#include "staging/hier_comm.h"

#include "comm/work_state.h"
#include "weft/env.h"
#include "weft/log.h"

namespace weft::staging {
namespace {

// One Work for the steps of an operation: complete when every step is and
// the stream has passed the end of the operation (the copies between and
// after the steps), failed with the first step's failure.
Work all_of(std::string what, std::vector<Work> steps, std::function<bool()> end_reached) {
  auto state = std::make_shared<Work::State>(std::move(what));
  state->set_poller([steps = std::move(steps), end_reached = std::move(end_reached)] {
    bool done = true;
    for (const Work& w : steps) done = w.test() && done;  // test() throws a failure
    return done && end_reached();
  });
  return Work(state);
}

char* at(void* p, size_t elems, size_t es) { return static_cast<char*>(p) + elems * es; }
const char* at(const void* p, size_t elems, size_t es) {
  return static_cast<const char*>(p) + elems * es;
}

}  // namespace

class HierarchicalDeviceComm::Temp {
 public:
  Temp(StreamOps& ops, size_t bytes, void* stream)
      : ops_(ops), stream_(stream), p_(static_cast<char*>(ops.alloc_device(bytes ? bytes : 1, stream))) {}
  ~Temp() { ops_.free_device(p_, stream_); }
  Temp(const Temp&) = delete;
  Temp& operator=(const Temp&) = delete;
  char* get() const { return p_; }

 private:
  StreamOps& ops_;
  void* stream_;
  char* p_;
};

HierarchicalDeviceComm::HierarchicalDeviceComm(int rank, HostLayout layout,
                                               std::unique_ptr<DeviceComm> intra,
                                               std::unique_ptr<StagedDeviceComm> inter,
                                               std::unique_ptr<StagedDeviceComm> world,
                                               std::shared_ptr<StreamOps> ops,
                                               size_t split_min_bytes)
    : rank_(rank),
      layout_(std::move(layout)),
      hosts_(layout_.hosts()),
      locals_(layout_.uniform_local_size()),
      intra_(std::move(intra)),
      inter_(std::move(inter)),
      world_(std::move(world)),
      ops_(std::move(ops)),
      split_min_bytes_(split_min_bytes) {
  WEFT_REQUIRE(locals_ > 1, "hierarchical device communicator needs several ranks per host");
  // A failure anywhere stops every part: the staged parts poll the others,
  // and tell the part inside the host when they fail themselves.
  DeviceComm* intra_p = intra_.get();
  StagedDeviceComm* inter_p = inter_.get();
  StagedDeviceComm* world_p = world_.get();
  inter_->set_watch([intra_p, world_p] {
    auto f = intra_p->failure();
    return f ? f : world_p->failure();
  });
  world_->set_watch([intra_p, inter_p] {
    auto f = intra_p->failure();
    return f ? f : inter_p->failure();
  });
  auto stop_intra = [intra_p](const Error& e) { intra_p->fail(e); };
  inter_->set_on_failure(stop_intra);
  world_->set_on_failure(stop_intra);
}

Work HierarchicalDeviceComm::finish(const char* what, std::vector<Work> steps, void* stream) {
  return all_of(what, std::move(steps), ops_->marker(stream, what));
}

// The parts watch each other: unhook them before any part goes away.
HierarchicalDeviceComm::~HierarchicalDeviceComm() {
  inter_->set_watch({});
  world_->set_watch({});
  inter_->set_on_failure({});
  world_->set_on_failure({});
}

void HierarchicalDeviceComm::log_choice(const char* kind, const char* how) const {
  std::lock_guard lock(log_mu_);
  if (!logged_.insert(str(kind, how)).second) return;
  WEFT_INFO("staging", "rank ", rank_, ": ", kind, " across ", layout_.describe(), ": ", how);
}

Work HierarchicalDeviceComm::allreduce(const void* in, void* out, size_t count, DataType type,
                                       ReduceOp op, void* stream) {
  const ReduceOp inside = inside_op(op);
  const size_t es = size_of(type), L = static_cast<size_t>(locals_);
  if (count * es < split_min_bytes_ || count < L) {
    log_choice("allreduce", "small: allreduce inside the host, then between hosts");
    std::vector<Work> steps;
    steps.push_back(intra_->allreduce(in, out, count, type, inside, stream));
    steps.push_back(inter_->allreduce(out, out, count, type, op, stream));
    return finish("allreduce (hierarchical)", std::move(steps), stream);
  }
  log_choice("allreduce", "reduce_scatter inside the host, allreduce between hosts, allgather inside");
  // The first shard * L elements go through the three steps; the few left
  // over (fewer than L) take the small path.
  const size_t shard = count / L, main_part = shard * L, tail = count - main_part;
  std::vector<Work> steps;
  if (tail) {
    steps.push_back(intra_->allreduce(at(in, main_part, es), at(out, main_part, es), tail, type, inside, stream));
    steps.push_back(inter_->allreduce(at(out, main_part, es), at(out, main_part, es), tail, type, op, stream));
  }
  Temp mine(*ops_, shard * es, stream);
  steps.push_back(intra_->reduce_scatter(in, mine.get(), shard, type, inside, stream));
  steps.push_back(inter_->allreduce(mine.get(), mine.get(), shard, type, op, stream));
  steps.push_back(intra_->allgather(mine.get(), out, shard, type, stream));
  return finish("allreduce (hierarchical)", std::move(steps), stream);
}

Work HierarchicalDeviceComm::reduce(const void* in, void* out, size_t count, DataType type,
                                    ReduceOp op, int root, void* stream) {
  log_choice("reduce", "reduce inside each host to the root's local index, then between hosts");
  const size_t es = size_of(type);
  const int root_host = layout_.host_of[static_cast<size_t>(root)];
  const int root_local = layout_.local_of[static_cast<size_t>(root)];
  Temp partial(*ops_, count * es, stream);
  std::vector<Work> steps;
  steps.push_back(intra_->reduce(in, partial.get(), count, type, inside_op(op), root_local, stream));
  if (local() == root_local)
    steps.push_back(inter_->reduce(partial.get(), rank_ == root ? out : partial.get(), count,
                                   type, op, root_host, stream));
  return finish("reduce (hierarchical)", std::move(steps), stream);
}

Work HierarchicalDeviceComm::broadcast(void* buf, size_t count, DataType type, int root,
                                       void* stream) {
  log_choice("broadcast", "between hosts among the root's local index, then inside each host");
  const int root_host = layout_.host_of[static_cast<size_t>(root)];
  const int root_local = layout_.local_of[static_cast<size_t>(root)];
  std::vector<Work> steps;
  if (local() == root_local) steps.push_back(inter_->broadcast(buf, count, type, root_host, stream));
  steps.push_back(intra_->broadcast(buf, count, type, root_local, stream));
  return finish("broadcast (hierarchical)", std::move(steps), stream);
}

// Blocks in the scratch of allgather / reduce_scatter are ordered by local
// index, then host: what the inside step produces (consumes) when the
// between step works per local index.
Work HierarchicalDeviceComm::allgather(const void* in, void* out, size_t count, DataType type,
                                       void* stream) {
  log_choice("allgather", "between hosts (per local index), then inside each host");
  const size_t es = size_of(type), H = static_cast<size_t>(hosts_), L = static_cast<size_t>(locals_);
  Temp by_host(*ops_, H * count * es, stream), all(*ops_, L * H * count * es, stream);
  std::vector<Work> steps;
  steps.push_back(inter_->allgather(in, by_host.get(), count, type, stream));
  steps.push_back(intra_->allgather(by_host.get(), all.get(), H * count, type, stream));
  for (int l = 0; l < locals_; ++l)
    for (int h = 0; h < hosts_; ++h) {
      const size_t from = (static_cast<size_t>(l) * H + static_cast<size_t>(h)) * count;
      ops_->copy(at(out, static_cast<size_t>(layout_.rank_of(h, l)) * count, es),
                 all.get() + from * es, count * es, stream);
    }
  return finish("allgather (hierarchical)", std::move(steps), stream);
}

Work HierarchicalDeviceComm::reduce_scatter(const void* in, void* out, size_t recv_count,
                                            DataType type, ReduceOp op, void* stream) {
  log_choice("reduce_scatter", "inside each host, then between hosts (per local index)");
  const size_t es = size_of(type), H = static_cast<size_t>(hosts_), L = static_cast<size_t>(locals_);
  Temp all(*ops_, L * H * recv_count * es, stream), by_host(*ops_, H * recv_count * es, stream);
  for (int l = 0; l < locals_; ++l)
    for (int h = 0; h < hosts_; ++h) {
      const size_t to = (static_cast<size_t>(l) * H + static_cast<size_t>(h)) * recv_count;
      ops_->copy(all.get() + to * es,
                 at(in, static_cast<size_t>(layout_.rank_of(h, l)) * recv_count, es),
                 recv_count * es, stream);
    }
  std::vector<Work> steps;
  steps.push_back(
      intra_->reduce_scatter(all.get(), by_host.get(), H * recv_count, type, inside_op(op), stream));
  steps.push_back(inter_->reduce_scatter(by_host.get(), out, recv_count, type, op, stream));
  return finish("reduce_scatter (hierarchical)", std::move(steps), stream);
}

Work HierarchicalDeviceComm::alltoall(const void* in, void* out, size_t count, DataType type,
                                      void* stream) {
  log_choice("alltoall", "staged over every rank");
  return world_->alltoall(in, out, count, type, stream);
}

Work HierarchicalDeviceComm::send(const void* buf, size_t count, DataType type, int peer,
                                  void* stream) {
  if (layout_.host_of[static_cast<size_t>(peer)] == host())
    return intra_->send(buf, count, type, layout_.local_of[static_cast<size_t>(peer)], stream);
  return world_->send(buf, count, type, peer, stream);
}

Work HierarchicalDeviceComm::recv(void* buf, size_t count, DataType type, int peer, void* stream) {
  if (layout_.host_of[static_cast<size_t>(peer)] == host())
    return intra_->recv(buf, count, type, layout_.local_of[static_cast<size_t>(peer)], stream);
  return world_->recv(buf, count, type, peer, stream);
}

uint64_t HierarchicalDeviceComm::register_buffer(const void* ptr, size_t bytes) {
  return intra_->register_buffer(ptr, bytes);
}

void HierarchicalDeviceComm::deregister(uint64_t id) { intra_->deregister(id); }

void HierarchicalDeviceComm::abort(const std::string& reason) {
  fail(Error(ErrorCode::Aborted, str("rank ", rank_, ": communicator aborted: ", reason)));
}

void HierarchicalDeviceComm::fail(const Error& cause) {
  intra_->fail(cause);
  inter_->fail(cause);
  world_->fail(cause);
}

std::optional<Error> HierarchicalDeviceComm::failure() const {
  if (auto f = intra_->failure()) return f;
  if (auto f = inter_->failure()) return f;
  return world_->failure();
}

// --- the factory -------------------------------------------------------------------------
std::unique_ptr<DeviceComm> make_multihost_device_comm(Communicator& host,
                                                       const HostLayout& layout,
                                                       const MultiHostParts& parts,
                                                       const StagingConfig& config) {
  const int rank = host.rank();
  const std::string mode = env::get("WEFT_MULTIHOST");
  WEFT_REQUIRE(mode == "auto" || mode == "flat" || mode == "hier",
               "WEFT_MULTIHOST must be auto, flat or hier (got '", mode, "')");
  const int locals = layout.uniform_local_size();
  const bool can_hier = locals > 1;
  // Every rank decides from the same layout and, under the launcher, the
  // same environment; a rank set apart would fail at its first split.
  const bool hier = can_hier && mode != "flat";
  const std::string why =
      hier ? "hierarchical: peer memory inside each host, staged sockets between hosts"
           : str("flat: every rank staged over sockets (",
                 mode == "flat" ? "WEFT_MULTIHOST=flat"
                 : locals == 1  ? "one rank per host"
                                : "hosts have different numbers of ranks",
                 ")");
  if (mode == "hier" && !can_hier)
    WEFT_WARN("staging", "rank ", rank, ": WEFT_MULTIHOST=hier needs the same number (> 1) of "
              "ranks on every host; running flat");
  WEFT_INFO("staging", "rank ", rank, ": GPUs on ", layout.describe(), ": ", why);

  auto world = std::make_unique<StagedDeviceComm>(host.split(0, rank), parts.ops, config,
                                                  "cross-host");
  if (!hier) return world;
  const size_t r = static_cast<size_t>(rank);
  // Averages sum inside the host and divide once, by every rank, at the end.
  // Its errors name ranks of the group: the label says which global ranks they are.
  std::string members;
  for (int h = 0; h < layout.hosts(); ++h)
    members += str(h ? "," : "", layout.rank_of(h, layout.local_of[r]));
  auto inter = std::make_unique<StagedDeviceComm>(
      host.split(layout.local_of[r], layout.host_of[r]), parts.ops, config,
      str("inter-host (global ranks ", members, ")"), host.size());
  auto intra = parts.make_intra(host, layout.host_of[r], layout.local_of[r], locals);
  return std::make_unique<HierarchicalDeviceComm>(
      rank, layout, std::move(intra), std::move(inter), std::move(world), parts.ops,
      static_cast<size_t>(env::get_int("WEFT_HIER_SPLIT_MIN_BYTES")));
}

}  // namespace weft::staging
