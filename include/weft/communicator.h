// weft::Communicator — a group of ranks that run collectives together.
//
//   auto comm = weft::Communicator::init(store, rank, world, {});
//   comm.allreduce(buf, buf, count, weft::DataType::f32, weft::ReduceOp::sum).wait();
//
// init() is collective: every rank publishes its address book (host identity,
// listen addresses, capabilities, version) in the store and reads the others'.
// Connections are made only to the peers an algorithm needs (the ring
// neighbours at init, others on first use), never a full mesh.
//
// Every operation is asynchronous and returns a Work. Collectives of one
// communicator run in the order they were called, each with a sequence number
// that all ranks must agree on: a rank that calls a different collective,
// count, dtype, op or root for the same number gets Mismatch naming both
// sides. A dead peer fails every waiting rank with PeerLost within seconds; a
// stuck one fails them with Timeout naming whom they waited for. After any
// failure the communicator is unusable and every later operation fails fast
// with the same root cause. Buffers must stay valid until the Work completes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "weft/dtype.h"
#include "weft/work.h"

namespace weft {

class Store;

// Where the communicator's buffers live. A CUDA communicator (one process per
// GPU of one host) runs its collectives on device memory of GPU `index`,
// enqueued on the caller's stream (OpOptions::stream); weft must be built
// with CUDA (WEFT_WITH_CUDA), otherwise init throws Unsupported.
struct Device {
  enum class Kind : uint8_t { cpu, cuda };
  Kind kind = Kind::cpu;
  int index = -1;
  static Device cpu() { return {}; }
  static Device cuda(int index) { return {Kind::cuda, index}; }
};

struct CommOptions {
  Device device = Device::cpu();
  // Default timeout of every operation; WEFT_TIMEOUT_S when unset.
  std::optional<std::chrono::milliseconds> timeout;
  // How long init waits for the other ranks; the store's timeout when unset.
  std::optional<std::chrono::milliseconds> init_timeout;
  // Store key prefix; communicators sharing a store need distinct names.
  std::string name = "weft";
};

// Per-operation options (the last argument of every operation).
struct OpOptions {
  // Overrides CommOptions::timeout (host-memory communicators; a CUDA
  // communicator applies CommOptions::timeout to every operation).
  std::optional<std::chrono::milliseconds> timeout;
  // CUDA communicators: the cudaStream_t the operation is enqueued on (null:
  // the legacy default stream). It runs after the work already on the stream
  // and later work waits for it, as with NCCL; the returned Work completes
  // when it finished on the device. Ignored for host memory.
  void* stream = nullptr;
  // Host-memory collectives: the caller waits for the result (MPI_Allreduce
  // rather than MPI_Iallreduce; PyTorch's async_op=False). The call returns
  // once the operation is done, with a completed Work (wait() rethrows its
  // failure; one that succeeded describes itself as "completed work"). With
  // nothing queued or running before it, it runs on the
  // calling thread without the bookkeeping an asynchronous operation needs;
  // else it queues and waits. Ignored by point-to-point and CUDA operations.
  bool blocking = false;
};

// A buffer registered with register_buffer().
struct BufferHandle {
  uint64_t id = 0;
  bool valid() const { return id != 0; }
};

class Communicator {
 public:
  // Collective over `size` ranks; `rank` in [0, size).
  static Communicator init(Store& store, int rank, int size, const CommOptions& options = {});
  // RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (what weftrun and torchrun set).
  // Rank 0 hosts the store when nobody serves MASTER_ADDR:MASTER_PORT yet.
  static Communicator init_from_env(const CommOptions& options = {});

  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;
  // Waits for nothing: pending operations fail with Aborted, then every
  // socket and thread is released.
  ~Communicator();

  int rank() const;
  int size() const;
  // Where its buffers live (CommOptions::device at init; cpu for split()s).
  Device device() const;

  // --- collectives ------------------------------------------------------------
  // send may equal recv (in place) for every collective below; counts are in
  // elements of `type`. On a CUDA communicator allreduce, reduce, broadcast,
  // allgather, reduce_scatter, alltoall, send and recv run on the GPU (device
  // buffers, OpOptions::stream); barrier synchronizes the processes on the
  // host; allgatherv, alltoallv, gather and scatter throw Unsupported.
  Work allreduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                 const OpOptions& opts = {});
  // recv is written on `root` only (may be null elsewhere).
  Work reduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op, int root,
              const OpOptions& opts = {});
  // root sends `buf`; every other rank receives into it.
  Work broadcast(void* buf, size_t count, DataType type, int root, const OpOptions& opts = {});
  // recv holds size() blocks of `count`; rank r's send lands in block r.
  // In place: send == recv + rank * count.
  Work allgather(const void* send, void* recv, size_t count, DataType type,
                 const OpOptions& opts = {});
  // counts[r] elements from rank r at displacement displs[r] (elements) of recv.
  Work allgatherv(const void* send, void* recv, std::span<const size_t> counts,
                  std::span<const size_t> displs, DataType type, const OpOptions& opts = {});
  // send holds size() blocks of `recv_count`; rank r receives the reduction of
  // block r. In place (NCCL's convention): recv == send + rank * recv_count.
  Work reduce_scatter(const void* send, void* recv, size_t recv_count, DataType type,
                      ReduceOp op, const OpOptions& opts = {});
  // Block j of send goes to rank j; block j of recv comes from rank j.
  Work alltoall(const void* send, void* recv, size_t count, DataType type,
                const OpOptions& opts = {});
  Work alltoallv(const void* send, std::span<const size_t> send_counts,
                 std::span<const size_t> send_displs, void* recv,
                 std::span<const size_t> recv_counts, std::span<const size_t> recv_displs,
                 DataType type, const OpOptions& opts = {});
  // recv (root only) holds size() blocks of `count`.
  Work gather(const void* send, void* recv, size_t count, DataType type, int root,
              const OpOptions& opts = {});
  // send (root only) holds size() blocks of `count`.
  Work scatter(const void* send, void* recv, size_t count, DataType type, int root,
               const OpOptions& opts = {});
  Work barrier(const OpOptions& opts = {});

  // --- point to point -------------------------------------------------------------
  // Matched by (source, tag) in posting order; any interleaving with other
  // tags, peers or collectives is fine. A recv's count must equal the send's.
  Work send(const void* buf, size_t count, DataType type, int peer, uint32_t tag = 0,
            const OpOptions& opts = {});
  Work recv(void* buf, size_t count, DataType type, int peer, uint32_t tag = 0,
            const OpOptions& opts = {});

  // --- registration -----------------------------------------------------------------
  // CUDA communicators: makes device memory [ptr, ptr + bytes) readable and
  // writable by every peer (its whole allocation is exported once and mapped
  // by each peer's service; registering memory already covered reuses that
  // registration). Collectives whose buffers are registered on every rank
  // read and write the peers' buffers directly (zero-copy) instead of
  // copying through weft's scratch; a rank that registered while a peer did
  // not makes that collective fail with Mismatch on both. Local (no other
  // rank takes part), but register on every rank alike. Host-memory
  // communicators need no registration: the handle is valid and does nothing.
  BufferHandle register_buffer(const void* ptr, size_t bytes);
  // Releases the registration (the peers unmap when its last user goes).
  // The buffer must not be in use by a pending operation.
  void deregister(BufferHandle handle);

  // --- lifecycle ------------------------------------------------------------------
  // Collective over this communicator: ranks with the same color form a new
  // communicator, ordered by (key, rank). color < 0 joins none (returns an
  // empty communicator: valid() == false). Host-memory communicators only.
  Communicator split(int color, int key);
  // Fails every pending and later operation with Aborted, here and (through
  // the connections) on every other rank of the communicator. Does not block.
  void abort();
  bool valid() const { return impl_ != nullptr; }

  class Impl;
  explicit Communicator(std::shared_ptr<Impl> impl);
  Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace weft
