// The shared segment of the shared-memory point-to-point transport: one
// one-way ring per ordered pair of ranks of a host, plus a control line and
// a failure notice per rank.
//
// Layout (each per-rank or per-ring counter on its own cache line, so that a
// writer never invalidates a line another process is polling):
//
//   header    magic, members, ring bytes, how many attached
//   control   per member: doorbell, sleepers, closed
//   failure   per member: a one-time notice (state, code, message)
//   rings     per ordered pair (s -> r): head (bytes written, by s),
//             tail (bytes consumed, by r), then `ring_bytes` of data
//
// A ring is a byte stream, like a TCP connection: the sender copies records
// (header + payload) in at head and publishes head with release; the
// receiver copies out below head and publishes tail. Both counters only grow.
//
// Doorbell: every rank's progress thread sleeps (futex) on its own doorbell
// word. Whoever gives it work — bytes in one of its inbound rings, space in
// one of its outbound rings, a failure notice, an orderly close — bumps the
// word and wakes it if it sleeps.
//
// Lifetime as in shm/segment.h: the lowest local rank creates the name, all
// map it, the name is removed as soon as everyone has it, so a SIGKILL never
// leaves anything in /dev/shm.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/fd.h"
#include "shm/group.h"
#include "shm/segment.h"

namespace weft::transport::shm_p2p {

inline constexpr size_t kLine = 64;

struct Control {
  alignas(kLine) std::atomic<uint32_t> bell;
  std::atomic<uint32_t> sleepers;
  std::atomic<uint32_t> closed;  // destroyed its communicator in an orderly way
};
static_assert(sizeof(Control) == kLine);

struct FailureNotice {
  static constexpr size_t kBytes = 2048;
  static constexpr size_t kMaxMessage = kBytes - 16;
  std::atomic<uint32_t> state;  // 0 none, 1 being written, 2 set
  uint32_t code;
  uint32_t length;
  uint32_t reserved;
  char message[kMaxMessage];
};
static_assert(sizeof(FailureNotice) == FailureNotice::kBytes);

struct RingCounters {
  alignas(kLine) std::atomic<uint64_t> head;
  alignas(kLine) std::atomic<uint64_t> tail;
};
static_assert(sizeof(RingCounters) == 2 * kLine);

// One direction between two ranks, as seen by either end.
struct Ring {
  RingCounters* counters = nullptr;
  char* data = nullptr;
  size_t capacity = 0;
  // Copies `n` bytes at stream position `pos` (wrapping at the end).
  void put(uint64_t pos, const void* src, size_t n) const;
  void get(uint64_t pos, void* dst, size_t n) const;
};

class Links {
 public:
  // Collective among `members` (sorted by rank; members[0] creates): maps
  // the segment, waits until all have, removes the name. `ring_bytes` is
  // rounded up to 4 KiB.
  static std::unique_ptr<Links> join(const std::string& name, std::vector<shm::Member> members,
                                     int self_rank, size_t ring_bytes,
                                     shm::Clock::time_point deadline);

  int local_size() const { return static_cast<int>(members_.size()); }
  int me() const { return me_; }
  const shm::Member& member(int local) const { return members_[static_cast<size_t>(local)]; }
  // The local index of communicator rank `rank`, or -1 when not on this host.
  int local_of(int rank) const;
  size_t ring_bytes() const { return ring_bytes_; }
  const std::string& name() const { return segment_.name(); }

  Control& control(int local) const;
  FailureNotice& notice(int local) const;
  Ring ring(int from, int to) const;

  // Gives `local` work: bumps its doorbell and wakes it if it sleeps.
  void ring_bell(int local) const;
  // Sleeps on this member's doorbell while it still reads `seen` (at most
  // `timeout`).
  void sleep(uint32_t seen, std::chrono::microseconds timeout) const;

  // The local index of a member whose process exited, or -1; forget(q)
  // stops watching member q (its exit was judged).
  int first_exited() const;
  void forget(int local) { pidfds_[static_cast<size_t>(local)].reset(); }

 private:
  Links(shm::Segment segment, std::vector<shm::Member> members, int me, size_t ring_bytes);
  shm::Segment segment_;
  std::vector<shm::Member> members_;
  int me_;
  size_t ring_bytes_;
  std::vector<net::Fd> pidfds_;
};

// Bytes of a segment for `n` members with rings of `ring_bytes`.
size_t links_bytes(int n, size_t ring_bytes);

}  // namespace weft::transport::shm_p2p
