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

// Where the communicator's buffers live. Only host memory is implemented on
// this path; the GPU path chooses its device here at init.
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
  std::optional<std::chrono::milliseconds> timeout;  // overrides CommOptions::timeout
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

  // --- collectives ------------------------------------------------------------
  // send may equal recv (in place) for every collective below; counts are in
  // elements of `type`.
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

  // --- lifecycle ------------------------------------------------------------------
  // Collective over this communicator: ranks with the same color form a new
  // communicator, ordered by (key, rank). color < 0 joins none (returns an
  // empty communicator: valid() == false).
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
