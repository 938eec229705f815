// Enqueueing GPU collectives on the caller's stream, and GpuOp.
#include "coll/gpu/gpu_comm.h"

#include <algorithm>
#include <thread>
#include <type_traits>

#include "coll/gpu/gpu_comm_impl.h"
#include "coll/op_desc.h"
#include "cuda/check.h"
#include "weft/log.h"

namespace weft::gpu {
namespace {

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Elements of one step (per slot): each block's share must fit the slot it
// owns in its fixed region of a scratch half (the kernels' block_region), and
// be whole 16-byte packs so block shares stay aligned. `step_bytes` of the
// half are used: pull steps use a quarter, push and two-shot steps all of it.
size_t chunk_elems(size_t elem_size, int slots, int blocks, size_t step_bytes) {
  const size_t region = (step_bytes / static_cast<size_t>(blocks)) & ~size_t(15);
  const size_t slot_bytes = (region / static_cast<size_t>(slots)) & ~size_t(15);
  return slot_bytes / elem_size * static_cast<size_t>(blocks);
}

// Pull steps stage a chunk that the peers then read: 8 MiB stays in L2 for
// their reads, where 32 MiB steps made a 256 MiB allgather on 2 H200s 8 %
// slower (620 vs 573 us; bench/results/gpu.md).
constexpr size_t kPullStepBytes = std::min(kHalfBytes, size_t(8) << 20);

// `op` is the operation's description; the "rank R: op" context is built
// only for an error, not on every call.
void check_device_pointer(const void* p, int device, const char* what, int rank, const std::string& op) {
  auto fail = [&](const auto&... why) {
    throw_error(ErrorCode::InvalidArgument, str("rank ", rank, ": ", op, ": ", what, why...));
  };
  if (p == nullptr) fail(" is null");
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();
    fail(" is not CUDA memory");
  }
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
    fail(" is host memory; a GPU communicator needs device memory");
  if (attr.type == cudaMemoryTypeDevice && attr.device != device)
    fail(" is on GPU ", attr.device, ", the communicator uses GPU ", device);
}

}  // namespace

// --- FailureState ------------------------------------------------------------------
bool FailureState::set(const Error& error) {
  std::lock_guard lock(mu_);
  if (error_) return false;
  error_ = error;
  return true;
}

std::optional<Error> FailureState::get() const {
  std::lock_guard lock(mu_);
  return error_;
}

void FailureState::throw_if_failed() const {
  std::lock_guard lock(mu_);
  if (error_) throw *error_;
}

// --- GpuOp ---------------------------------------------------------------------------
EventPool::~EventPool() {
  for (cudaEvent_t e : free_) cudaEventDestroy(e);
}

cudaEvent_t EventPool::take(const std::string& what) {
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      cudaEvent_t e = free_.back();
      free_.pop_back();
      return e;
    }
  }
  cudaEvent_t e = nullptr;
  WEFT_CUDART(what, cudaEventCreateWithFlags, &e, cudaEventDisableTiming);
  return e;
}

void EventPool::give(cudaEvent_t event) {
  std::lock_guard lock(mu_);
  free_.push_back(event);
}

GpuOp::Record::~Record() {
  if (done) events->give(done);
}

bool GpuOp::test() const {
  if (!record_ || !record_->done) return true;
  cudaError_t q = cudaEventQuery(record_->done);
  if (q == cudaErrorNotReady) {
    record_->failure->throw_if_failed();  // the kernels are giving up
    return false;
  }
  if (q != cudaSuccess) cuda::throw_runtime_error(q, "cudaEventQuery", record_->description);
  // Complete: it failed if the kernels gave up rather than finished.
  if (const int why = *record_->kernel_gave_up) {
    if (why == kStatusMismatch)
      record_->failure->set(Error(
          ErrorCode::Mismatch,
          str(record_->description, ": the ranks ran different GPU algorithms for this operation ",
              "(one registered its buffers for zero-copy and a peer did not, their counts differ, ",
              "or their WEFT_GPU_*_MIN_BYTES settings differ)")));
    record_->failure->throw_if_failed();
  }
  return true;
}

void GpuOp::wait() const {
  // The watchdog bounds this loop: it fails the communicator at the
  // operation's deadline, and test() then throws.
  auto pause = std::chrono::microseconds(1);
  while (!test()) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(200));
  }
}

std::string GpuOp::describe() const { return record_ ? record_->description : "(complete)"; }

// --- Impl ------------------------------------------------------------------------------
GpuComm::Impl::~Impl() {
  try {
    DeviceGuard guard(config.device);
    // Our kernels may still read peers' scratch: let them finish (or give up,
    // the watchdog is still running) before anything is unmapped.
    cudaError_t err = cudaDeviceSynchronize();
    if (err != cudaSuccess)
      WEFT_WARN("gpu", "rank ", rank, ": synchronizing before destroying the GPU communicator: ",
                cudaGetErrorString(err));
    stop_watchdog_ = true;
    if (watchdog_.joinable()) watchdog_.join();
    release_resources();
  } catch (const std::exception& e) {
    WEFT_WARN("gpu", "rank ", rank, ": destroying the GPU communicator: ", e.what());
  }
}

void GpuComm::Impl::fail(const Error& error) {
  if (failure->set(error)) {
    WEFT_WARN("gpu", error.what());
    if (host_words_) __atomic_store_n(&host_words_[0], 1, __ATOMIC_RELEASE);
  }
}

template <typename Launch>
GpuOp GpuComm::Impl::enqueue(std::string what, cudaStream_t stream, Launch&& launch) {
  failure->throw_if_failed();
  if (int peer = departed_peer_.load(); peer >= 0) {
    fail(Error(ErrorCode::PeerLost, str("rank ", rank, ": ", what, ": peer rank ", peer,
                                         " has left the communicator (its process exited or destroyed it)")));
    failure->throw_if_failed();
  }
  DeviceGuard guard(config.device);
  // A <<<>>> launch reports through cudaGetLastError; cudaLaunchKernelEx
  // returns its error (and leaves it there too, so it is read either way).
  cudaError_t err = cudaSuccess;
  if constexpr (std::is_same_v<decltype(launch()), cudaError_t>) err = launch();
  else launch();
  if (cudaError_t last = cudaGetLastError(); err == cudaSuccess) err = last;
  if (err != cudaSuccess) cuda::throw_runtime_error(err, "kernel launch", str("rank ", rank, ": ", what));
  auto record = std::make_shared<GpuOp::Record>();
  record->description = std::move(what);
  record->failure = failure;
  record->kernel_gave_up = host_words_ + 1;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  WEFT_CUDART(record->description, cudaStreamIsCapturing, stream, &capture);
  if (capture != cudaStreamCaptureStatusNone) return GpuOp(record);  // replays are untracked
  record->events = events;
  record->done = events->take(record->description);
  WEFT_CUDART(record->description, cudaEventRecord, record->done, stream);
  record->deadline = std::chrono::steady_clock::now() + config.timeout;
  {
    std::lock_guard lock(pending_mu_);
    pending_.push_back(record);
  }
  return GpuOp(record);
}

// --- GpuComm ---------------------------------------------------------------------------
GpuComm::GpuComm(Store& store, int rank, int size, const GpuCommConfig& config)
    : impl_(std::make_unique<Impl>(store, rank, size, config)) {}
GpuComm::~GpuComm() = default;

int GpuComm::rank() const { return impl_->rank; }
int GpuComm::size() const { return impl_->size; }
int GpuComm::device() const { return impl_->config.device; }
int GpuComm::blocks() const { return impl_->blocks; }

void GpuComm::abort(const std::string& reason) {
  impl_->fail(Error(ErrorCode::Aborted, str("rank ", impl_->rank, ": GPU communicator aborted: ", reason)));
}

void GpuComm::fail(const Error& cause) { impl_->fail(cause); }

std::optional<Error> GpuComm::failure() const { return impl_->failure->get(); }

GpuOp GpuComm::Impl::collective(CollKind kind, const char* name, const void* in, void* out,
                                size_t count, DataType type, ReduceOp op, int root,
                                cudaStream_t stream) {
  const bool reduces = kind == CollKind::allreduce || kind == CollKind::reduce ||
                       kind == CollKind::reduce_scatter;
  const bool per_rank_blocks = kind == CollKind::reduce_scatter || kind == CollKind::alltoall ||
                               kind == CollKind::allgather;
  const bool rooted = kind == CollKind::reduce || kind == CollKind::broadcast;
  const size_t esize = size_of(type);
  const uint64_t seq = ++next_seq_;
  const size_t total = count * esize * (kind == CollKind::allgather ? size_t(size) : 1) *
                       (kind == CollKind::reduce_scatter || kind == CollKind::alltoall ? size_t(size) : 1);
  std::string what = str(name, " #", seq, " (", coll::format_bytes(total), " ", to_string(type));
  if (reduces) what += str(" ", to_string(op));
  if (rooted) what += str(" root ", root);
  what += ")";
  if (rooted)
    WEFT_REQUIRE(root >= 0 && root < size, "rank ", rank, ": ", what, ": root ", root, " is not a rank of ", size);
  if (count == 0) return GpuOp();
  const bool reads_in = kind != CollKind::broadcast || rank == root;
  const bool writes_out = !(kind == CollKind::reduce && rank != root);
  if (reads_in) check_device_pointer(in, config.device, "the input buffer", rank, what);
  if (writes_out) check_device_pointer(out, config.device, "the output buffer", rank, what);

  // LL for the smallest allreduce, allgather and reduce_scatter (bytes per rank).
  const size_t ll_bytes = kind == CollKind::allreduce ? total : count * esize;
  const bool ll_kind = kind == CollKind::allreduce || kind == CollKind::allgather ||
                       kind == CollKind::reduce_scatter;
  if (ll_kind && size > 1 && ll_bytes <= ll_max_bytes_.of(kind)) {
    LLArgs ll{};
    ll.view = view;
    ll.in = in;
    ll.out = out;
    ll.bytes = ll_bytes;
    ll.slot_bytes = ll_slot_bytes(size);
    ll.block_threads = ll_block_threads_;
    const bool blocks_aligned = kind == CollKind::allreduce || ll_bytes % 8 == 0;
    ll.aligned = blocks_aligned &&
                 (reinterpret_cast<uintptr_t>(in) | reinterpret_cast<uintptr_t>(out)) % 8 == 0;
    return enqueue(what + " LL", stream, [&] { return launch_ll(kind, type, op, ll, blocks, dependent_launch_, stream); });
  }
  if (kind == CollKind::allreduce || kind == CollKind::reduce_scatter || kind == CollKind::allgather)
    if (auto op_done = try_zero_copy(kind, what, in, out, count, type, op, stream)) return *op_done;

  CollArgs args{};
  args.view = view;
  args.in = in;
  args.out = out;
  args.root = root;
  // Small operations push (one one-way NVLink trip), larger ones pull; the
  // push layout needs a slot per sender in every block region. reduce_scatter
  // always pushes: pulling stages its whole input first (at 128 MiB on 2
  // H200s push took 349 us, pull 443; bench/results/gpu.md).
  const size_t per_rank_total = total / (per_rank_blocks ? size_t(size) : 1);
  const bool push = size > 1 && (per_rank_total <= push_max_bytes_ || kind == CollKind::reduce_scatter);
  const bool two_shot = !push && kind == CollKind::allreduce && size > 1 && count * esize >= two_shot_min_bytes_;
  const int slots = (kind == CollKind::reduce_scatter || kind == CollKind::alltoall || two_shot ||
                     (push && kind != CollKind::broadcast))
                        ? size
                        : 1;
  bool vec = (!reads_in || aligned16(in)) && (!writes_out || aligned16(out));
  const size_t step_bytes = push || two_shot ? kHalfBytes : kPullStepBytes;
  if (reduces) {
    // Reduce kernels count elements of `type`.
    args.count = count;
    // A two-shot step sends one slot per peer, so a step covers every slot.
    args.chunk = chunk_elems(esize, slots, blocks, step_bytes) * (two_shot ? static_cast<size_t>(size) : 1);
    if (per_rank_blocks) vec = vec && (count * esize) % 16 == 0;
  } else {
    // Copy kernels count bytes.
    args.count = count * esize;
    args.chunk = chunk_elems(1, slots, blocks, step_bytes);
    if (per_rank_blocks) vec = vec && args.count % 16 == 0;
  }
  args.vec = vec ? 1 : 0;
  args.push = push ? 1 : 0;
  args.two_shot = two_shot ? 1 : 0;
  if (two_shot) what += " two-shot";
  if (push) what += " push";
  return enqueue(std::move(what), stream, [&] {
    launch_collective(kind, type, op, args, blocks, stream);
  });
}

std::optional<GpuOp> GpuComm::Impl::try_zero_copy(CollKind kind, const std::string& what,
                                                  const void* in, void* out, size_t count,
                                                  DataType type, ReduceOp op, cudaStream_t stream) {
  const size_t block = count * size_of(type);  // the buffer, or one rank's block
  const size_t n = static_cast<size_t>(size);
  const size_t in_bytes = kind == CollKind::reduce_scatter ? n * block : block;
  const size_t out_bytes = kind == CollKind::allgather ? n * block : block;
  if (size < 2 || std::max(in_bytes, out_bytes) < zero_copy_min_bytes_.of(kind)) return std::nullopt;
  ZeroCopyArgs args{};
  if (!registrar_->peer_addresses(in, in_bytes, args.in_seen_by) ||
      !registrar_->peer_addresses(out, out_bytes, args.out_seen_by))
    return std::nullopt;
  args.view = view;
  args.in = in;
  args.out = out;
  args.count = kind == CollKind::allgather ? block : count;
  const bool blocks_aligned = kind == CollKind::allreduce || block % 16 == 0;
  args.vec = aligned16(in) && aligned16(out) && blocks_aligned ? 1 : 0;
  return enqueue(what + " zero-copy", stream, [&] {
    launch_zero_copy(kind, type, op, args, blocks, stream);
  });
}

uint64_t GpuComm::register_buffer(const void* ptr, size_t bytes) {
  impl_->failure->throw_if_failed();
  DeviceGuard guard(impl_->config.device);
  check_device_pointer(ptr, impl_->config.device, "the buffer", impl_->rank, "register_buffer");
  return impl_->registrar_->register_buffer(ptr, bytes).value;
}

void GpuComm::deregister(uint64_t id) {
  impl_->registrar_->deregister(reg::RegistrationHandle{id});
}

GpuOp GpuComm::Impl::p2p(bool is_send, void* buf, size_t count, DataType type, int peer,
                         cudaStream_t stream) {
  const uint64_t seq = ++next_seq_;
  std::string what = str(is_send ? "send" : "recv", " #", seq, " (", coll::format_bytes(count * size_of(type)),
                         " ", to_string(type), is_send ? " to " : " from ", "rank ", peer, ")");
  WEFT_REQUIRE(peer >= 0 && peer < size && peer != rank, "rank ", rank, ": ", what, ": peer ", peer,
               " must be another rank of ", size);
  if (count == 0) return GpuOp();
  check_device_pointer(buf, config.device, "the buffer", rank, what);
  P2PArgs args{};
  args.view = view;
  args.buf = buf;
  args.bytes = count * size_of(type);
  args.peer = peer;
  args.vec = aligned16(buf) ? 1 : 0;
  return enqueue(std::move(what), stream, [&] {
    if (is_send) launch_send(args, blocks, stream);
    else launch_recv(args, blocks, stream);
  });
}

GpuOp GpuComm::allreduce(const void* in, void* out, size_t count, DataType type, ReduceOp op,
                         cudaStream_t stream) {
  return impl_->collective(CollKind::allreduce, "allreduce", in, out, count, type, op, 0, stream);
}

GpuOp GpuComm::reduce(const void* in, void* out, size_t count, DataType type, ReduceOp op,
                      int root, cudaStream_t stream) {
  return impl_->collective(CollKind::reduce, "reduce", in, out, count, type, op, root, stream);
}

GpuOp GpuComm::broadcast(const void* in, void* out, size_t count, DataType type, int root,
                         cudaStream_t stream) {
  return impl_->collective(CollKind::broadcast, "broadcast", in, out, count, type, ReduceOp::sum,
                           root, stream);
}

GpuOp GpuComm::allgather(const void* in, void* out, size_t count, DataType type,
                         cudaStream_t stream) {
  return impl_->collective(CollKind::allgather, "allgather", in, out, count, type, ReduceOp::sum,
                           0, stream);
}

GpuOp GpuComm::reduce_scatter(const void* in, void* out, size_t recv_count, DataType type,
                              ReduceOp op, cudaStream_t stream) {
  return impl_->collective(CollKind::reduce_scatter, "reduce_scatter", in, out, recv_count, type,
                           op, 0, stream);
}

GpuOp GpuComm::alltoall(const void* in, void* out, size_t count, DataType type,
                        cudaStream_t stream) {
  return impl_->collective(CollKind::alltoall, "alltoall", in, out, count, type, ReduceOp::sum, 0,
                           stream);
}

GpuOp GpuComm::send(const void* buf, size_t count, DataType type, int peer, cudaStream_t stream) {
  return impl_->p2p(true, const_cast<void*>(buf), count, type, peer, stream);
}

GpuOp GpuComm::recv(void* buf, size_t count, DataType type, int peer, cudaStream_t stream) {
  return impl_->p2p(false, buf, count, type, peer, stream);
}

}  // namespace weft::gpu
