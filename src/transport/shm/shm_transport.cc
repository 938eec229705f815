#include "transport/shm/shm_transport.h"

#include <algorithm>
#include <cstring>

#include "core/spin_wait.h"
#include "weft/log.h"

namespace weft::transport {

using Clock = std::chrono::steady_clock;
using shm_p2p::FailureNotice;

namespace {

constexpr uint32_t kRecordMagic = 0x52505357;  // "WSPR"
constexpr uint8_t kHasOpHeader = 1;
// How long the progress thread keeps polling after its last piece of work
// before it sleeps on its doorbell (every local rank with a core of its own),
// and how long one sleep lasts at most (liveness checks in between).
constexpr auto kSpinAlone = std::chrono::microseconds(20);
constexpr auto kSpinShared = std::chrono::microseconds(2);
constexpr auto kSleep = std::chrono::microseconds(10000);

}  // namespace

// What precedes every message in a ring.
struct ShmTransport::Record {
  uint32_t magic = kRecordMagic;
  uint8_t flags = 0;
  uint8_t reserved[3] = {};
  uint64_t tag = 0;
  uint64_t total = 0;  // payload bytes that follow
  uint8_t header[OpHeader::kSize] = {};
};

ShmTransport::ShmTransport(int rank, int size, HeaderFormatter formatter, uint64_t comm_id,
                           net::Listener listener, std::vector<PeerAddress> peers,
                           SocketOptions options, std::unique_ptr<shm_p2p::Links> links)
    : SocketTransport(rank, size, std::move(formatter), comm_id, std::move(listener),
                      std::move(peers), options),
      links_(std::move(links)),
      local_of_(static_cast<size_t>(size), -1) {
  static_assert(sizeof(Record) == sizeof(Item::record));
  const int n = links_->local_size(), me = links_->me();
  for (int q = 0; q < n; ++q)
    if (q != me) local_of_[static_cast<size_t>(links_->member(q).rank)] = q;
  for (int q = 0; q < n; ++q) {
    if (q == me) {
      out_.push_back(nullptr);
      in_.push_back(nullptr);
      continue;
    }
    auto o = std::make_unique<Outbound>();
    o->local = q;
    o->ring = links_->ring(me, q);
    out_.push_back(std::move(o));
    auto i = std::make_unique<Inbound>();
    i->local = q;
    i->peer = links_->member(q).rank;
    i->ring = links_->ring(q, me);
    in_.push_back(std::move(i));
  }
  notice_seen_.assign(static_cast<size_t>(n), false);
  // Twice the local ranks' threads (worker + progress) against the CPUs.
  spin_for_ = outnumber_cpus(n) ? kSpinShared : kSpinAlone;
  progress_ = std::thread([this] { progress_loop(); });
}

ShmTransport::~ShmTransport() {
  closing_ = true;
  // An orderly goodbye, so that peers do not take our exit for a crash
  // (and learn that nothing more will come from us).
  if (!failure()) {
    links_->control(links_->me()).closed.store(1, std::memory_order_seq_cst);
    for (int q = 0; q < links_->local_size(); ++q)
      if (q != links_->me()) links_->ring_bell(q);
  }
  stop_ = true;
  links_->ring_bell(links_->me());
  progress_.join();
}

void ShmTransport::connect(int peer) {
  if (!is_local(peer)) SocketTransport::connect(peer);
}

// --- sending ---------------------------------------------------------------------------
void ShmTransport::start_send(const RequestPtr& request, const OpHeader* header) {
  const int q = local_of_[static_cast<size_t>(request->peer)];
  if (q < 0) return SocketTransport::start_send(request, header);
  if (links_->control(q).closed.load(std::memory_order_acquire)) {
    fail(ErrorCode::PeerLost, str("rank ", rank(), ": peer rank ", request->peer,
                                  " destroyed its communicator; cannot send to it during ",
                                  context()));
    request->fail(failure());
    return;
  }
  Outbound& o = *out_[static_cast<size_t>(q)];
  Item item;
  item.request = request;
  Record rec;
  rec.tag = request->tag;
  rec.total = request->bytes;
  if (header) {
    rec.flags = kHasOpHeader;
    std::memcpy(rec.header, header->bytes, OpHeader::kSize);
  }
  std::memcpy(item.record, &rec, sizeof rec);
  std::vector<RequestPtr> finished;
  bool left;
  {
    std::lock_guard lock(o.mutex);
    if (o.poisoned) {
      auto f = failure();
      request->fail(f ? f : std::make_exception_ptr(Error(
                                ErrorCode::PeerLost, str("rank ", rank(), ": channel to peer rank ",
                                                         request->peer, " is gone"))));
      return;
    }
    o.queue.push_back(std::move(item));
    pump(o, finished);
    left = !o.queue.empty();
    o.pending.store(left, std::memory_order_release);
  }
  sent_.fetch_add(1, std::memory_order_relaxed);
  for (auto& r : finished) r->complete();
  if (left) {
    // A failure that raced with the post must not strand it.
    if (auto f = failure()) return drop(o, f);
    links_->ring_bell(links_->me());  // the progress thread continues
  }
}

bool ShmTransport::pump(Outbound& o, std::vector<RequestPtr>& finished) {
  if (o.poisoned) return false;
  bool progressed = false;
  shm_p2p::RingCounters& c = *o.ring.counters;
  const size_t capacity = o.ring.capacity;
  while (!o.queue.empty()) {
    Item& item = o.queue.front();
    const uint64_t total = sizeof item.record + item.request->bytes;
    const uint64_t head = c.head.load(std::memory_order_relaxed);  // ours alone
    const uint64_t tail = c.tail.load(std::memory_order_acquire);
    const size_t room = capacity - static_cast<size_t>(head - tail);
    if (room == 0) break;
    size_t n = static_cast<size_t>(std::min<uint64_t>({room, total - item.written, kChunk}));
    uint64_t at = head;
    size_t done = 0;
    if (item.written < sizeof item.record) {
      const size_t part = std::min(n, sizeof item.record - static_cast<size_t>(item.written));
      o.ring.put(at, item.record + item.written, part);
      at += part;
      done = part;
    }
    if (done < n) {
      const size_t offset = static_cast<size_t>(item.written + done - sizeof item.record);
      o.ring.put(at, static_cast<const char*>(item.request->data) + offset, n - done);
    }
    c.head.store(head + n, std::memory_order_release);
    item.written += n;
    links_->ring_bell(o.local);
    progressed = true;
    if (item.written == total) {
      finished.push_back(std::move(item.request));
      o.queue.pop_front();
    }
  }
  return progressed;
}

bool ShmTransport::pump_and_complete(Outbound& o) {
  if (!o.pending.load(std::memory_order_acquire)) return false;
  std::vector<RequestPtr> finished;
  bool progressed;
  {
    std::lock_guard lock(o.mutex);
    progressed = pump(o, finished);
    o.pending.store(!o.queue.empty(), std::memory_order_release);
  }
  for (auto& r : finished) r->complete();
  return progressed;
}

void ShmTransport::drop(Outbound& o, std::exception_ptr error) {
  std::vector<RequestPtr> dropped;
  {
    std::lock_guard lock(o.mutex);
    // A record cut in the middle cannot be followed by another (and its
    // payload may be freed once its request fails).
    if (!o.queue.empty() && o.queue.front().written > 0) o.poisoned = true;
    for (auto& item : o.queue) dropped.push_back(std::move(item.request));
    o.queue.clear();
    o.pending.store(false, std::memory_order_release);
  }
  for (auto& r : dropped) r->fail(error);
}

// --- failure ---------------------------------------------------------------------------
void ShmTransport::broadcast_failure(ErrorCode code, const std::string& message) {
  FailureNotice& mine = links_->notice(links_->me());
  uint32_t expected = 0;
  if (mine.state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    mine.code = static_cast<uint32_t>(code);
    mine.length = static_cast<uint32_t>(std::min(message.size(), FailureNotice::kMaxMessage));
    std::memcpy(mine.message, message.data(), mine.length);
    mine.state.store(2, std::memory_order_release);
    for (int q = 0; q < links_->local_size(); ++q)
      if (q != links_->me()) links_->ring_bell(q);
  }
  SocketTransport::broadcast_failure(code, message);
}

void ShmTransport::fail_sends(std::exception_ptr error) {
  SocketTransport::fail_sends(error);
  for (auto& o : out_)
    if (o) drop(*o, error);
}

bool ShmTransport::read_notices() {
  bool any = false;
  for (int q = 0; q < links_->local_size(); ++q) {
    if (q == links_->me() || notice_seen_[static_cast<size_t>(q)]) continue;
    FailureNotice& n = links_->notice(q);
    if (n.state.load(std::memory_order_acquire) != 2) continue;
    notice_seen_[static_cast<size_t>(q)] = true;
    any = true;
    if (closing_) continue;  // our exit no longer needs their news
    on_peer_failure(links_->member(q).rank, static_cast<ErrorCode>(n.code),
                    std::string(n.message, std::min<size_t>(n.length, FailureNotice::kMaxMessage)));
  }
  return any;
}

// A peer that exited without closing is lost; one that closed while this
// rank still expects data from it (and everything it sent is read) too.
void ShmTransport::check_peers() {
  if (failure() || closing_) return;
  for (int q = links_->first_exited(); q >= 0; q = links_->first_exited()) {
    links_->forget(q);
    if (links_->control(q).closed.load(std::memory_order_acquire)) continue;
    const auto& m = links_->member(q);
    // Whatever it managed to write is read first (it may hold its failure notice's cause).
    read_notices();
    if (failure()) return;
    fail(ErrorCode::PeerLost, str("rank ", rank(), ": peer rank ", m.rank, " (pid ", m.pid,
                                  ") exited during ", context()));
    return;
  }
  for (int q = 0; q < links_->local_size(); ++q) {
    if (q == links_->me() || !links_->control(q).closed.load(std::memory_order_acquire)) continue;
    Inbound& in = *in_[static_cast<size_t>(q)];
    drain(in);
    const bool drained = in.pos == in.ring.counters->head.load(std::memory_order_acquire);
    if (drained && matcher().has_pending(in.peer)) {
      fail(ErrorCode::PeerLost, str("rank ", rank(), ": peer rank ", in.peer,
                                    " destroyed its communicator while rank ", rank(),
                                    " still expected data from it during ", context()));
      return;
    }
  }
}

// --- receiving -------------------------------------------------------------------------
void ShmTransport::on_record(Inbound& in) {
  Record rec;
  std::memcpy(&rec, in.record, sizeof rec);
  in.record_got = 0;
  if (rec.magic != kRecordMagic) {
    fail(ErrorCode::Internal, str("rank ", rank(), ": shared memory ring from peer rank ", in.peer,
                                  " is corrupt (bad record magic) during ", context()));
    in.phase = Inbound::Phase::discard;
    in.remaining = UINT64_MAX;
    return;
  }
  OpHeader oh;
  const OpHeader* header = nullptr;
  if (rec.flags & kHasOpHeader) {
    std::memcpy(oh.bytes, rec.header, OpHeader::kSize);
    header = &oh;
  }
  in.total = rec.total;
  try {
    in.slot = matcher().on_fragment(in.peer, rec.tag, rec.total, header);
  } catch (const Error& e) {
    if (!failure()) fail(e.code(), str("rank ", rank(), ": ", e.message()));
    in.remaining = rec.total;
    in.phase = rec.total ? Inbound::Phase::discard : Inbound::Phase::record;
    return;
  }
  if (rec.total == 0) {
    matcher().on_bytes(in.slot, 0);
    in.slot.reset();
    return;
  }
  in.dest = in.slot->dest();
  in.remaining = rec.total;
  in.phase = Inbound::Phase::payload;
}

bool ShmTransport::drain(Inbound& in) {
  shm_p2p::RingCounters& c = *in.ring.counters;
  bool progressed = false, rang = false;
  while (true) {
    const uint64_t head = c.head.load(std::memory_order_acquire);
    if (in.pos == head) break;
    const uint64_t avail = head - in.pos;
    switch (in.phase) {
      case Inbound::Phase::record: {
        const size_t n = static_cast<size_t>(
            std::min<uint64_t>(avail, sizeof in.record - in.record_got));
        in.ring.get(in.pos, in.record + in.record_got, n);
        in.pos += n;
        in.record_got += n;
        if (in.record_got == sizeof in.record) on_record(in);
        break;
      }
      case Inbound::Phase::payload: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>({avail, in.remaining, kChunk}));
        if (!land([&] { in.ring.get(in.pos, in.dest, n); })) {
          // Failed: the receive's buffer may be gone; the rest is skipped.
          in.slot.reset();
          in.phase = Inbound::Phase::discard;
          break;
        }
        in.pos += n;
        in.dest += n;
        in.remaining -= n;
        if (in.remaining == 0) {
          matcher().on_bytes(in.slot, in.total);
          in.slot.reset();
          in.phase = Inbound::Phase::record;
        }
        break;
      }
      case Inbound::Phase::discard: {
        const uint64_t n = std::min(avail, in.remaining);
        in.pos += n;
        in.remaining -= n;
        if (in.remaining == 0) in.phase = Inbound::Phase::record;
        break;
      }
    }
    // Space freed after every step, so that the sender refills the ring
    // while the rest is copied out.
    c.tail.store(in.pos, std::memory_order_release);
    progressed = true;
    // A sender streaming a large message may wait for this space.
    rang = in.phase == Inbound::Phase::payload;
    if (rang) links_->ring_bell(in.local);
  }
  if (progressed && !rang) links_->ring_bell(in.local);
  return progressed;
}

bool ShmTransport::poll_once() {
  bool progressed = read_notices();
  for (auto& in : in_)
    if (in) progressed = drain(*in) || progressed;
  for (auto& o : out_)
    if (o) progressed = pump_and_complete(*o) || progressed;
  return progressed;
}

void ShmTransport::progress_loop() {
  log::ScopedRank scoped(rank());
  auto idle_since = Clock::now();
  auto last_check = idle_since;
  const auto& bell = links_->control(links_->me()).bell;
  while (!stop_.load(std::memory_order_acquire)) {
    const uint32_t seen = bell.load(std::memory_order_seq_cst);
    const bool progressed = poll_once();
    const auto now = Clock::now();
    if (now - last_check >= kLivenessPeriod) {
      last_check = now;
      check_peers();
    }
    if (progressed) {
      idle_since = now;
      continue;
    }
    if (now - idle_since < spin_for_) {
      cpu_relax();
      continue;
    }
    links_->sleep(seen, kSleep);
  }
}

}  // namespace weft::transport
