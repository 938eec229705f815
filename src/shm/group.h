// The ranks of one communicator that share a host, and the shared segment
// through which their collectives run at memory speed.
//
// Layout (every per-rank field on its own cache line, so that a rank writing
// its flag never invalidates the line another rank is polling):
//
//   header   magic, member count, half size, how many members attached
//   flags    one 64-bit phase counter per member (+ how many sleep on it)
//   descs    per member, the op descriptor of the round in each half
//   probes   per member, its cross-memory-attach wishes and probe result
//   addrs    per member, the buffer addresses it published for each half
//   boxes    per member, two exchanges of five lines ("boxes", by step parity):
//            {step + the op's seq, packed descriptor, 48 + 4 x 64 bytes of payload}
//   slots    per member, two halves of `half_bytes` (double buffering)
//
// Synchronisation is one monotonic counter per member: a member completes
// "phases" in the same order as every other member (they run the same
// operations in the same order), and releases its counter after each; "peer
// q has passed phase p" is flags[q] >= p, read with acquire. No counter is
// ever reset, so nothing needs clearing between operations.
//
// A round uses one half of every member's slot. Before a member writes its
// half again it waits until every member has finished the round that last
// used it (end_round records which phase that is). Alternating halves lets
// a fast member fill the next chunk while slower ones still read the last.
// Finishing a round needs no phase of its own: every round signals at least
// once (its arrive), so a member that has passed the first phase after a
// round has finished reading that round, and the half is free two rounds
// later. A member remembers the highest phase it has seen every peer pass,
// so that waits it knows to be over read no peer's counter (a peer's counter
// line is a cache miss whenever that peer signalled since).
//
// Operations whose data fits in a box (<= kBoxPayload = 304 bytes: small
// allreduce, reduce, broadcast, allgather, barrier) skip the rounds: each
// member writes payload and packed descriptor into its box for the next step
// and publishes the step number in the box's first line (one store that
// readers poll; up to 48 bytes the payload shares that line, so the whole
// exchange is one line each way; larger payloads continue over up to four
// more lines, which readers fetch together after the first), then waits
// until the boxes it reads show that step (every peer's; a broadcast's
// readers: the root's; a broadcast's root and a reduce's contributors read
// none and return). Before writing a step, a member waits until every peer
// has published the step before (box_free: at once after a full exchange).
// A round for 64-256 bytes took 15-19 % longer than these few more lines
// (bench/results/cpu.md). Boxes alternate by step parity and are never
// cleared: a member writes step e+2 into a box only after it has seen every
// peer's step e+1, which each peer published only after it had finished
// reading step e (the reuse argument of the GPU LL protocol,
// coll/gpu/ll_kernel.cuh). Box steps and round phases are two separate
// sequences; every member runs the same operations, so the same ones on
// each path. A member that runs a round where a peer runs a box exchange,
// or the reverse (they disagree about the size or dtype), finds out in its
// wait: it sees the peer's other sequence advance past where it should be,
// and reports Mismatch with both descriptions.
//
// Waiting spins briefly (30 µs when every member has a core, 3 µs
// otherwise), then sleeps on the peer's counter (a futex, woken by its
// signal, 1 ms at most per sleep); it never
// blocks without checking the deadline (Timeout naming the missing ranks),
// the communicator's sticky failure (a peer's notification, abort) and the
// peers' liveness through pidfds (PeerLost naming the dead rank and pid).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/fd.h"
#include "shm/segment.h"
#include "transport/op_header.h"

namespace weft::transport { class Transport; }

namespace weft::shm {

using Clock = std::chrono::steady_clock;

struct Member {
  int rank = -1;     // in the communicator
  int64_t pid = 0;
};

// This member's wishes about cross-memory attach (WEFT_SHM_CMA,
// WEFT_SHM_CMA_MIN_BYTES). The group uses it only when every member wants
// it and every member could read every other's memory; the threshold is the
// largest any member asked for.
struct CmaConfig {
  bool enabled = false;
  size_t min_bytes = 0;
  // Whether to time it against the segment's copies first and use it only
  // where it pays (shm/calibration.h; WEFT_SHM_CMA_CALIBRATE); off on any
  // member: on without timing.
  bool calibrate = true;
};

class Group {
 public:
  // Collective over `members` (sorted by rank; members[0] creates the
  // segment): maps the segment `name`, waits until every member has mapped
  // it, then removes the name. `half_bytes` is rounded up to 4 KiB.
  static std::unique_ptr<Group> join(const std::string& name, std::vector<Member> members,
                                     int self_rank, size_t half_bytes,
                                     transport::Transport* transport, Clock::time_point deadline,
                                     CmaConfig cma = {});
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int local_rank() const { return me_; }
  int local_size() const { return static_cast<int>(members_.size()); }
  int global_rank(int local) const { return members_[static_cast<size_t>(local)].rank; }
  size_t half_bytes() const { return half_bytes_; }
  const std::string& name() const { return segment_.name(); }

  // --- cross-memory attach -------------------------------------------------------
  // Whether operations that read at least cma_min_bytes() from each peer
  // read the peers' buffers directly (the same answer on every member);
  // cma_status() says why or why not, for the log.
  bool cma() const { return cma_; }
  size_t cma_min_bytes() const { return cma_min_bytes_; }
  // The same for allgather and broadcast (WEFT_SHM_CMA_COPY_MIN_BYTES).
  size_t cma_copy_min_bytes() const { return cma_copy_min_bytes_; }
  const std::string& cma_status() const { return cma_status_; }
  // Publishes this member's buffers for the round on `half` (before the
  // round's first signal), and reads what member `local` published.
  void publish(int half, const void* a, const void* b);
  uint64_t published(int local, int half, int which) const;
  // Copies `bytes` at `remote` in member `local`'s memory into `dst`.
  // PeerLost when that member is gone, SystemError for any other failure.
  void read_peer(int local, void* dst, uint64_t remote, size_t bytes);
  // Copies `bytes` at `src` to `remote` in member `local`'s memory (the same errors).
  void write_peer(int local, uint64_t remote, const void* src, size_t bytes);
  // True the first time it is called with `what` (< 32): for "log once".
  bool first_time(int what) { return !(logged_ & (1u << what)) && (logged_ |= 1u << what); }

  // --- box exchanges --------------------------------------------------------------
  // A box: one line with the step word, the descriptor and 48 bytes of
  // payload, then 4 lines of payload only (an operation reads only the lines
  // its size needs: up to 48 bytes, the first).
  static constexpr size_t kBoxLines = 5;
  static constexpr size_t kBoxPayload = kBoxLines * 64 - 16;
  // This member's payload space for its next exchange (write it, then
  // box_exchange), once no peer can still be reading it: every peer has
  // published the step before the next (box_free).
  char* box_payload(Clock::time_point deadline) {
    box_free(deadline);
    return box_line(me_, (box_step_ + 1) & 1) + 16;
  }
  // Whose boxes an exchange waits for: every peer's, one peer's (a rooted
  // operation's readers wait for the root), or none (the root of a
  // broadcast, the contributors of a reduce: nobody they read from).
  enum class BoxWait { all, one, none };
  // Publishes this member's box for the next step, with `desc` (an opaque
  // packed descriptor, compared by the caller) and `seq` (the operation's
  // number, its low 32 bits kept), and waits until the boxes of the peers
  // `wait` names (`only`: the one) show that step. Returns the parity to
  // read the boxes at.
  int box_exchange(uint64_t desc, uint64_t seq, Clock::time_point deadline,
                   BoxWait wait = BoxWait::all, int only = -1);
  // Member `local`'s box of parity `parity`: its payload, descriptor and seq (low 32 bits).
  const char* box_payload(int local, int parity) const { return box_line(local, parity) + 16; }
  uint64_t box_desc(int local, int parity) const {
    return *reinterpret_cast<const uint64_t*>(box_line(local, parity) + 8);
  }
  uint32_t box_seq(int local, int parity) const {
    return static_cast<uint32_t>(box_word(local, parity).load(std::memory_order_relaxed) >> 32);
  }
  // How Mismatch messages describe an operation (set by the collectives
  // layer, which owns the descriptor's format): a round's OpHeader, a box's
  // packed descriptor and seq.
  using DescribeHeader = std::string (*)(const transport::OpHeader&);
  using DescribeBox = std::string (*)(uint64_t desc, uint32_t seq);
  void set_describers(DescribeHeader header, DescribeBox box) {
    describe_header_ = header;
    describe_box_ = box;
  }
  // Mismatch: "<mine> on rank R does not match peer rank Q's <theirs> (seen in shared memory)".
  [[noreturn]] void mismatch(const std::string& mine, int local, const std::string& theirs) const;

  // --- rounds --------------------------------------------------------------------
  // Starts a round: picks the next half, waits until every member is done
  // with it, and publishes `desc` as this member's descriptor for it.
  int begin_round(const transport::OpHeader& desc, Clock::time_point deadline);
  // Marks the end of the round on `half`. `synced`: every member has
  // passed this member's last phase already (it waited for them), so the
  // half is free at once; otherwise it is free once every member has passed
  // this member's next phase (the next round's arrive: a member arrives
  // there only after it finished reading this one).
  void end_round(int half, bool synced) {
    free_after_[half] = synced ? phase_ : phase_ + 1;
    // The next round writes this member's descriptor and slot in the other
    // half, lines a peer read before: ask for their first lines writable
    // now, so that the invalidations happen while the caller does its
    // bookkeeping, not in the next signal() (which waits for them).
    __builtin_prefetch(slot(me_, half ^ 1), 1);
    __builtin_prefetch(&desc(me_, half ^ 1), 1);
  }

  char* slot(int local, int half) const;
  const transport::OpHeader& desc(int local, int half) const;

  // Completes this member's next phase (everything written before is
  // visible to a member that sees the new count) and wakes members sleeping
  // on it. Returns its number.
  uint64_t signal();
  uint64_t phase() const { return phase_; }
  // Until every other member (or member `local`) has completed `phase`.
  void wait_all(uint64_t phase, Clock::time_point deadline);
  void wait(int local, uint64_t phase, Clock::time_point deadline);

 private:
  Group(Segment segment, std::vector<Member> members, int me, size_t half_bytes,
        transport::Transport* transport);
  std::atomic<uint64_t>& flag(int local) const;
  // Inline: the hot path of a box exchange calls it per peer.
  char* box_line(int local, int parity) const {
    return segment_.data() + boxes_offset_ +
           kBoxLines * 64 * (2 * static_cast<size_t>(local) + static_cast<size_t>(parity));
  }
  std::atomic<uint64_t>& box_word(int local, int parity) const {
    return *reinterpret_cast<std::atomic<uint64_t>*>(box_line(local, parity));
  }
  // Waits until every peer has published box step box_step_ (after it
  // read, if it reads, this member's box of the step before, whose parity
  // the next step reuses).
  void box_free(Clock::time_point deadline);
  // Waits until every peer's box shows `step` (then box_all_seen_ = step).
  void wait_every_box(uint64_t step, Clock::time_point deadline);
  bool box_passed(int local, uint64_t step) const {
    return static_cast<uint32_t>(box_word(local, step & 1).load(std::memory_order_acquire)) ==
           static_cast<uint32_t>(step);
  }
  // A peer on the other path than this member (see the layout comment):
  // throws Mismatch unless the peer turns out to have passed `target` after all.
  void check_path(int local, bool box, uint64_t target);
  size_t desc_offset(int local, int half) const;
  std::atomic<uint32_t>& waiters(int local) const;  // sleeping on flag(local)
  // Sleeps at most 1 ms on `local`'s counter (or, `box`, on its box word
  // of step `target`) unless it already shows `target`.
  void sleep_on(int local, uint64_t target, bool box);
  bool passed(int local, uint64_t phase) const {
    return flag(local).load(std::memory_order_acquire) >= phase;
  }
  // The slow path of the waits; `only` < 0 means every member; `box`:
  // for boxes of step `target`, else for phase `target`.
  void wait_slow(int only, uint64_t target, Clock::time_point deadline, bool box = false);
  // How long a member's exit waits for the transport's verdict on it: many
  // times its liveness period (20 ms), for a loaded machine.
  static constexpr auto kTransportVerdictWait = std::chrono::milliseconds(500);
  // Throws when a member has exited: the transport's verdict on it when the
  // transport reaches one in time, else PeerLost naming it.
  void check_alive();
  [[noreturn]] void cma_failed(int local, const char* call, size_t bytes, int err);
  [[noreturn]] void timed_out(int only, uint64_t target, bool box);

  Segment segment_;
  std::vector<Member> members_;
  int me_;
  size_t half_bytes_;
  transport::Transport* transport_;  // whose sticky failure waits watch (may be null)
  size_t flags_offset_, descs_offset_, addrs_offset_, boxes_offset_, slots_offset_;
  std::chrono::microseconds spin_for_;
  std::chrono::microseconds yield_for_;
  std::vector<net::Fd> pidfds_;  // per member (invalid for self or when unavailable)
  uint64_t phase_ = 0;
  uint64_t free_after_[2] = {0, 0};
  uint64_t all_passed_ = 0;  // every other member has passed this phase (seen)
  uint64_t rounds_ = 0;
  uint64_t box_step_ = 0;  // box exchanges started
  uint64_t box_all_seen_ = 0;  // every peer's box was seen at this step (or later)
  // What this member runs now, for Mismatch messages of a wait that finds
  // a peer on the other path.
  transport::OpHeader round_desc_;
  uint64_t box_desc_ = 0, box_seq_ = 0;
  DescribeHeader describe_header_ = nullptr;
  DescribeBox describe_box_ = nullptr;
  bool cma_ = false;
  size_t cma_min_bytes_ = 0, cma_copy_min_bytes_ = 0;
  std::string cma_status_;
  uint32_t logged_ = 0;
};

// The segment size for `n` members with halves of `half_bytes`.
size_t segment_bytes(int n, size_t half_bytes);

}  // namespace weft::shm
