// The running collective as an algorithm sees it: who it is, which peers it
// talks to, and the scratch memory it may use.
//
// Context::send/recv wrap the transport: they build the tag from the
// operation's sequence number and a sub-tag the algorithm chooses (unique
// within the operation), attach the op header to the first message sent to
// each peer, and expect it on every receive. Context::wait enforces the
// operation's deadline and, when it passes, throws Timeout naming the peers
// whose messages never came.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "coll/op_desc.h"
#include "core/copy.h"
#include "transport/transport.h"

namespace weft::shm { class Group; }

namespace weft::coll {

using Clock = std::chrono::steady_clock;

// Grow-only buffers owned by a communicator and reused by every operation:
// fresh pages cost ~10 µs each on these machines, so nothing large is
// allocated per operation.
class Scratch {
 public:
  static constexpr int kSlots = 6;
  char* get(int slot, size_t bytes);

 private:
  AlignedBuffer buffers_[kSlots];  // page-aligned: see core/copy.h
};

class Context {
 public:
  Context(transport::Transport& transport, const OpDesc& desc, Clock::time_point deadline,
          Scratch& scratch, shm::Group* shm = nullptr);
  // A view of `parent` restricted to `members` (ranks of the parent, sorted;
  // this rank among them): rank() and size() and the peers of send/recv are
  // indices into `members`. The messages carry `desc`'s header. Used by
  // hierarchical algorithms to run a flat algorithm among one rank per host.
  Context(Context& parent, std::vector<int> members, const OpDesc& desc);

  int rank() const { return group_rank_; }
  int size() const { return group_size_; }
  // The communicator-wide rank of group member `peer`.
  int global(int peer) const { return members_.empty() ? peer : members_[static_cast<size_t>(peer)]; }
  // The shared-memory group of this rank's host (null when there is none).
  shm::Group* shm() const { return shm_; }
  Clock::time_point deadline() const { return deadline_; }
  transport::Transport& transport() { return transport_; }
  const OpDesc& desc() const { return desc_; }
  DataType dtype() const { return desc_.dtype; }
  ReduceOp op() const { return desc_.op; }
  size_t esize() const { return size_of(desc_.dtype); }
  Scratch& scratch() { return scratch_; }

  // `sub` < 2^24 identifies the message within this operation.
  transport::RequestPtr send(int peer, uint32_t sub, const void* data, size_t bytes);
  transport::RequestPtr recv(int peer, uint32_t sub, void* data, size_t bytes);
  // Waits for one request, or every request of `requests` (then clears it).
  void wait(const transport::RequestPtr& request);
  void wait_all(std::vector<transport::RequestPtr>& requests);

  // The peers whose posted receives have not completed, as
  // "peer rank 2" / "peer ranks 2, 5"; "" if none.
  std::string awaited() const;

  static constexpr uint32_t kMaxSub = 1u << 24;

 private:
  [[noreturn]] void timed_out(const transport::RequestPtr& waiting_for);

  transport::Transport& transport_;
  OpDesc desc_;
  transport::OpHeader header_;
  Clock::time_point deadline_;
  Scratch& scratch_;
  shm::Group* shm_ = nullptr;
  std::vector<int> members_;  // empty: every rank of the transport
  int group_rank_, group_size_;
  std::vector<uint8_t> header_sent_;  // per peer; empty until the first send
  std::vector<transport::RequestPtr> recvs_;  // for the Timeout message
};

// Blocks of a buffer, in elements: block i is [offset[i], offset[i] + count[i]).
struct Blocks {
  std::vector<size_t> offset, count;
  // `total` elements split as evenly as possible (the first total % n get one more).
  static Blocks even(size_t total, int n, size_t base = 0);
  size_t max_count() const;
};

// Chunk c of nchunks of a block of m elements: [m*c/nchunks, m*(c+1)/nchunks).
inline size_t chunk_begin(size_t m, int c, int nchunks) {
  return static_cast<size_t>((static_cast<unsigned __int128>(m) * static_cast<unsigned>(c)) /
                             static_cast<unsigned>(nchunks));
}

}  // namespace weft::coll
