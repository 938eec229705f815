#include "transport/shm/links.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "core/copy.h"
#include "core/futex.h"
#include "shm/join_wait.h"
#include "shm/liveness.h"
#include "weft/error.h"

namespace weft::transport::shm_p2p {
namespace {

constexpr uint64_t kMagic = 0x7765667470327031ull;  // "weftp2p1"
constexpr size_t kPage = 4096;

struct Header {
  std::atomic<uint64_t> magic;
  std::atomic<uint32_t> attached;
  uint32_t members;
  uint64_t ring_bytes;
};
static_assert(sizeof(Header) <= kLine);

size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }
size_t control_offset() { return kLine; }
size_t notice_offset(int n) { return control_offset() + kLine * static_cast<size_t>(n); }
size_t rings_offset(int n) {
  return round_up(notice_offset(n) + FailureNotice::kBytes * static_cast<size_t>(n), kPage);
}
size_t ring_stride(size_t ring_bytes) { return sizeof(RingCounters) + ring_bytes; }

Header& header_of(const shm::Segment& s) { return *reinterpret_cast<Header*>(s.data()); }

}  // namespace

size_t links_bytes(int n, size_t ring_bytes) {
  return rings_offset(n) +
         ring_stride(ring_bytes) * static_cast<size_t>(n) * static_cast<size_t>(n);
}

void Ring::put(uint64_t pos, const void* src, size_t n) const {
  const size_t at = static_cast<size_t>(pos % capacity);
  const size_t first = std::min(n, capacity - at);
  copy_bytes(data + at, src, first);
  if (first < n) copy_bytes(data, static_cast<const char*>(src) + first, n - first);
}

void Ring::get(uint64_t pos, void* dst, size_t n) const {
  const size_t at = static_cast<size_t>(pos % capacity);
  const size_t first = std::min(n, capacity - at);
  copy_bytes(dst, data + at, first);
  if (first < n) copy_bytes(static_cast<char*>(dst) + first, data, n - first);
}

std::unique_ptr<Links> Links::join(const std::string& name, std::vector<shm::Member> members,
                                   int self_rank, size_t ring_bytes,
                                   shm::Clock::time_point deadline) {
  const int n = static_cast<int>(members.size());
  auto it = std::find_if(members.begin(), members.end(),
                         [&](const shm::Member& m) { return m.rank == self_rank; });
  WEFT_ASSERT(it != members.end() && n >= 2);
  const int me = static_cast<int>(it - members.begin());
  ring_bytes = round_up(std::max<size_t>(ring_bytes, kPage), kPage);
  const size_t bytes = links_bytes(n, ring_bytes);
  // Not pre-faulted: only the rings of peers that talk are ever touched,
  // and init stays fast (a fresh page costs ~10 us on these VMs).
  const bool populate = false;
  shm::JoinWait join(members, me, self_rank, name, deadline);
  try {
    shm::Segment segment;
    if (me == 0) {
      segment = shm::Segment::create(name, bytes, populate);
      Header& h = header_of(segment);
      h.members = static_cast<uint32_t>(n);
      h.ring_bytes = ring_bytes;
      h.magic.store(kMagic, std::memory_order_release);
    } else {
      join.until([&] { return (segment = shm::Segment::try_open(name, bytes, populate)).data(); },
               "not created");
      Header& h = header_of(segment);
      join.until([&] { return h.magic.load(std::memory_order_acquire) == kMagic; },
               "never initialised");
      WEFT_REQUIRE(h.members == static_cast<uint32_t>(n) && h.ring_bytes == ring_bytes,
                   "shared memory segment ", name, " was made for ", h.members,
                   " ranks with rings of ", h.ring_bytes, " bytes, not ", n, " of ", ring_bytes);
    }
    Header& h = header_of(segment);
    h.attached.fetch_add(1, std::memory_order_acq_rel);
    join.until([&] { return h.attached.load(std::memory_order_acquire) >= static_cast<uint32_t>(n); },
             "not every rank of this host mapped it");
    segment.unlink();
    auto links = std::unique_ptr<Links>(
        new Links(std::move(segment), std::move(members), me, ring_bytes));
    links->pidfds_ = join.take_pidfds();
    return links;
  } catch (...) {
    ::shm_unlink(name.c_str());  // whoever gives up removes the name
    throw;
  }
}

Links::Links(shm::Segment segment, std::vector<shm::Member> members, int me, size_t ring_bytes)
    : segment_(std::move(segment)), members_(std::move(members)), me_(me), ring_bytes_(ring_bytes) {}

int Links::local_of(int rank) const {
  for (int q = 0; q < local_size(); ++q)
    if (members_[static_cast<size_t>(q)].rank == rank) return q;
  return -1;
}

Control& Links::control(int local) const {
  return *reinterpret_cast<Control*>(segment_.data() + control_offset() +
                                     kLine * static_cast<size_t>(local));
}

FailureNotice& Links::notice(int local) const {
  return *reinterpret_cast<FailureNotice*>(segment_.data() + notice_offset(local_size()) +
                                           FailureNotice::kBytes * static_cast<size_t>(local));
}

Ring Links::ring(int from, int to) const {
  const size_t index = static_cast<size_t>(from) * static_cast<size_t>(local_size()) +
                       static_cast<size_t>(to);
  char* base = segment_.data() + rings_offset(local_size()) + ring_stride(ring_bytes_) * index;
  return Ring{reinterpret_cast<RingCounters*>(base), base + sizeof(RingCounters), ring_bytes_};
}

// Dekker-style with the sleeper count: the sleeper registers, then re-reads
// the doorbell; the ringer bumps the doorbell, then reads the count (both
// seq_cst), so one of them always sees the other.
void Links::ring_bell(int local) const {
  Control& c = control(local);
  c.bell.fetch_add(1, std::memory_order_seq_cst);
  if (c.sleepers.load(std::memory_order_seq_cst) != 0)
    futex::wake_all(c.bell, futex::Scope::shared);
}

void Links::sleep(uint32_t seen, std::chrono::microseconds timeout) const {
  Control& c = control(me_);
  c.sleepers.fetch_add(1, std::memory_order_seq_cst);
  if (c.bell.load(std::memory_order_seq_cst) == seen) {
    futex::wait_for(c.bell, seen, timeout, futex::Scope::shared);
  }
  c.sleepers.fetch_sub(1, std::memory_order_relaxed);
}

int Links::first_exited() const { return shm::first_exited(pidfds_); }

}  // namespace weft::transport::shm_p2p
