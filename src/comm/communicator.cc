// The public Communicator: argument checks, then a queued operation whose
// body runs a coll:: entry point on the worker thread. (init, init_from_env
// and split live in src/bootstrap/.)
#include <numeric>
#include <span>
#include <vector>

#include "coll/collectives.h"
#include "comm/comm_impl.h"

namespace weft {

using coll::OpDesc;
using coll::OpKind;

Communicator::Communicator(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;
Communicator::~Communicator() = default;

namespace {

void check_root(const Communicator::Impl& impl, int root, const char* what) {
  WEFT_REQUIRE(root >= 0 && root < impl.size(), "rank ", impl.rank(), ": ", what, " root ", root,
               " is not a rank of [0, ", impl.size(), ")");
}

void check_buffer(const void* p, size_t count, const char* what, const char* name, int rank) {
  WEFT_REQUIRE(p != nullptr || count == 0, "rank ", rank, ": ", what, ": ", name,
               " is null for ", count, " elements");
}

OpDesc desc(OpKind kind, DataType type, size_t count, ReduceOp op = ReduceOp::sum,
            int root = -1) {
  OpDesc d;
  d.kind = kind;
  d.dtype = type;
  d.count = count;
  d.op = op;
  d.root = root;
  return d;
}

// Operations a CUDA communicator does not run on the GPU yet.
[[noreturn]] void not_on_device(const Communicator::Impl& impl, const char* what) {
  throw_error(ErrorCode::Unsupported,
              str("rank ", impl.rank(), ": ", what, " on a CUDA communicator is not implemented (",
                  "allreduce, reduce, broadcast, allgather, reduce_scatter, alltoall, send, recv ",
                  "and barrier are)"));
}

}  // namespace

int Communicator::rank() const { return impl_->rank(); }
int Communicator::size() const { return impl_->size(); }
Device Communicator::device() const { return impl_->device ? impl_->options.device : Device::cpu(); }

Work Communicator::allreduce(const void* send, void* recv, size_t count, DataType type,
                             ReduceOp op, const OpOptions& opts) {
  if (auto* d = impl_->device.get()) return d->allreduce(send, recv, count, type, op, opts.stream);
  check_buffer(send, count, "allreduce", "send", rank());
  check_buffer(recv, count, "allreduce", "recv", rank());
  return impl_->submit(desc(OpKind::allreduce, type, count, op),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args& a) {
                          coll::allreduce(ctx, p, a.in, a.out, a.count);
                        },
                        {send, recv, count}},
                       opts);
}

Work Communicator::reduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                          int root, const OpOptions& opts) {
  if (auto* d = impl_->device.get()) return d->reduce(send, recv, count, type, op, root, opts.stream);
  check_root(*impl_, root, "reduce");
  check_buffer(send, count, "reduce", "send", rank());
  if (rank() == root) check_buffer(recv, count, "reduce", "recv", rank());
  return impl_->submit(desc(OpKind::reduce, type, count, op, root),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args& a) {
                          coll::reduce(ctx, p, a.in, a.out, a.count, a.root);
                        },
                        {send, recv, count, root}},
                       opts);
}

Work Communicator::broadcast(void* buf, size_t count, DataType type, int root,
                             const OpOptions& opts) {
  if (auto* d = impl_->device.get()) return d->broadcast(buf, count, type, root, opts.stream);
  check_root(*impl_, root, "broadcast");
  check_buffer(buf, count, "broadcast", "buf", rank());
  return impl_->submit(desc(OpKind::broadcast, type, count, ReduceOp::sum, root),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args& a) {
                          coll::broadcast(ctx, p, a.out, a.count, a.root);
                        },
                        {nullptr, buf, count, root}},
                       opts);
}

Work Communicator::allgather(const void* send, void* recv, size_t count, DataType type,
                             const OpOptions& opts) {
  if (auto* d = impl_->device.get()) return d->allgather(send, recv, count, type, opts.stream);
  check_buffer(send, count, "allgather", "send", rank());
  check_buffer(recv, count, "allgather", "recv", rank());
  return impl_->submit(desc(OpKind::allgather, type, count),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args& a) {
                          coll::allgather(ctx, p, a.in, a.out, a.count);
                        },
                        {send, recv, count}},
                       opts);
}

Work Communicator::allgatherv(const void* send, void* recv, std::span<const size_t> counts,
                              std::span<const size_t> displs, DataType type,
                              const OpOptions& opts) {
  if (impl_->device) not_on_device(*impl_, "allgatherv");
  const size_t n = static_cast<size_t>(size());
  WEFT_REQUIRE(counts.size() == n && displs.size() == n, "rank ", rank(),
               ": allgatherv needs ", n, " counts and displacements, got ", counts.size(),
               " and ", displs.size());
  // counts, then displacements
  auto v = std::make_shared<std::vector<size_t>>(counts.begin(), counts.end());
  v->insert(v->end(), displs.begin(), displs.end());
  const size_t total = std::accumulate(counts.begin(), counts.end(), size_t{0});
  return impl_->submit(desc(OpKind::allgatherv, type, total),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args& a) {
                          std::span<const size_t> v(
                              *static_cast<const std::vector<size_t>*>(a.extra.get()));
                          const size_t n = v.size() / 2;
                          coll::allgatherv(ctx, p, a.in, a.out, v.first(n), v.subspan(n));
                        },
                        {send, recv, total, -1, v}},
                       opts);
}

Work Communicator::reduce_scatter(const void* send, void* recv, size_t recv_count, DataType type,
                                  ReduceOp op, const OpOptions& opts) {
  if (auto* d = impl_->device.get()) return d->reduce_scatter(send, recv, recv_count, type, op, opts.stream);
  check_buffer(send, recv_count, "reduce_scatter", "send", rank());
  check_buffer(recv, recv_count, "reduce_scatter", "recv", rank());
  return impl_->submit(desc(OpKind::reduce_scatter, type, recv_count, op),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args& a) {
                          coll::reduce_scatter(ctx, p, a.in, a.out, a.count);
                        },
                        {send, recv, recv_count}},
                       opts);
}

Work Communicator::alltoall(const void* send, void* recv, size_t count, DataType type,
                            const OpOptions& opts) {
  if (auto* d = impl_->device.get()) return d->alltoall(send, recv, count, type, opts.stream);
  check_buffer(send, count, "alltoall", "send", rank());
  check_buffer(recv, count, "alltoall", "recv", rank());
  return impl_->submit(desc(OpKind::alltoall, type, count),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args& a) {
                          coll::alltoall(ctx, p, a.in, a.out, a.count);
                        },
                        {send, recv, count}},
                       opts);
}

Work Communicator::alltoallv(const void* send, std::span<const size_t> send_counts,
                             std::span<const size_t> send_displs, void* recv,
                             std::span<const size_t> recv_counts,
                             std::span<const size_t> recv_displs, DataType type,
                             const OpOptions& opts) {
  if (impl_->device) not_on_device(*impl_, "alltoallv");
  const size_t n = static_cast<size_t>(size());
  WEFT_REQUIRE(send_counts.size() == n && send_displs.size() == n && recv_counts.size() == n &&
                   recv_displs.size() == n,
               "rank ", rank(), ": alltoallv needs ", n, " counts and displacements per side");
  // send counts, send displacements, receive counts, receive displacements
  auto v = std::make_shared<std::vector<size_t>>();
  for (auto part : {send_counts, send_displs, recv_counts, recv_displs})
    v->insert(v->end(), part.begin(), part.end());
  return impl_->submit(desc(OpKind::alltoallv, type, 0),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args& a) {
                          std::span<const size_t> v(
                              *static_cast<const std::vector<size_t>*>(a.extra.get()));
                          const size_t n = v.size() / 4;
                          coll::alltoallv(ctx, p, a.in, v.first(n), v.subspan(n, n), a.out,
                                          v.subspan(2 * n, n), v.subspan(3 * n));
                        },
                        {send, recv, 0, -1, v}},
                       opts);
}

Work Communicator::gather(const void* send, void* recv, size_t count, DataType type, int root,
                          const OpOptions& opts) {
  if (impl_->device) not_on_device(*impl_, "gather");
  check_root(*impl_, root, "gather");
  check_buffer(send, count, "gather", "send", rank());
  if (rank() == root) check_buffer(recv, count, "gather", "recv", rank());
  return impl_->submit(desc(OpKind::gather, type, count, ReduceOp::sum, root),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args& a) {
                          coll::gather(ctx, p, a.in, a.out, a.count, a.root);
                        },
                        {send, recv, count, root}},
                       opts);
}

Work Communicator::scatter(const void* send, void* recv, size_t count, DataType type, int root,
                           const OpOptions& opts) {
  if (impl_->device) not_on_device(*impl_, "scatter");
  check_root(*impl_, root, "scatter");
  if (rank() == root) check_buffer(send, count, "scatter", "send", rank());
  check_buffer(recv, count, "scatter", "recv", rank());
  return impl_->submit(desc(OpKind::scatter, type, count, ReduceOp::sum, root),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args& a) {
                          coll::scatter(ctx, p, a.in, a.out, a.count, a.root);
                        },
                        {send, recv, count, root}},
                       opts);
}

Work Communicator::barrier(const OpOptions& opts) {
  return impl_->submit(desc(OpKind::barrier, DataType::u8, 0),
                       {[](coll::Context& ctx, const coll::Planner& p, const Impl::Args&) {
                          coll::barrier(ctx, p);
                        },
                        {}},
                       opts);
}

Work Communicator::send(const void* buf, size_t count, DataType type, int peer, uint32_t tag,
                        const OpOptions& opts) {
  if (auto* d = impl_->device.get()) return d->send(buf, count, type, peer, opts.stream);
  check_buffer(buf, count, "send", "buf", rank());
  return impl_->p2p(true, const_cast<void*>(buf), count, type, peer, tag, opts);
}

Work Communicator::recv(void* buf, size_t count, DataType type, int peer, uint32_t tag,
                        const OpOptions& opts) {
  if (auto* d = impl_->device.get()) return d->recv(buf, count, type, peer, opts.stream);
  check_buffer(buf, count, "recv", "buf", rank());
  return impl_->p2p(false, buf, count, type, peer, tag, opts);
}

BufferHandle Communicator::register_buffer(const void* ptr, size_t bytes) {
  WEFT_REQUIRE(ptr != nullptr && bytes > 0, "rank ", rank(), ": register_buffer(", ptr, ", ",
               bytes, "): null or empty buffer");
  if (auto* d = impl_->device.get()) return BufferHandle{d->register_buffer(ptr, bytes)};
  std::lock_guard lock(impl_->registrations_mutex);
  const uint64_t id = impl_->next_registration++;
  impl_->registrations.insert(id);
  return BufferHandle{id};
}

void Communicator::deregister(BufferHandle handle) {
  if (auto* d = impl_->device.get()) return d->deregister(handle.id);
  std::lock_guard lock(impl_->registrations_mutex);
  WEFT_REQUIRE(impl_->registrations.erase(handle.id) == 1, "rank ", rank(),
               ": deregister: handle ", handle.id, " is not registered with this communicator");
}

void Communicator::abort() {
  if (!impl_) return;
  if (impl_->device) impl_->device->abort("Communicator::abort");
  impl_->abort();
}

}  // namespace weft
