#include "shm/group.h"

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>

#include "core/copy.h"
#include "core/futex.h"
#include "core/spin_wait.h"
#include "shm/calibration.h"
#include "shm/cma.h"
#include "shm/join_wait.h"
#include "shm/liveness.h"
#include "transport/transport.h"
#include "weft/env.h"
#include "weft/error.h"

namespace weft::shm {
namespace {

constexpr uint64_t kMagic = 0x7765667473686d31ull;  // "weftshm1"
constexpr size_t kLine = 64;
constexpr size_t kPage = 4096;
// How long a wait spins before sleeping on the peer's counter (futex):
// a peer running on a core of its own usually arrives within this; when
// members outnumber cores, the one being waited for may need this core.
constexpr auto kSpinAlone = std::chrono::microseconds(30);
constexpr auto kSpinShared = std::chrono::microseconds(3);
// Then, only when members outnumber cores, it yields the core for
// WEFT_SHM_YIELD_US: the member it waits for is often runnable right here,
// and a yield runs it at once, where a futex sleep would cost the signaller
// a wake-up system call and this member a wake-up latency (docs/shm.md).

struct Header {
  std::atomic<uint64_t> magic;
  std::atomic<uint32_t> attached;
  uint32_t members;
  uint64_t half_bytes;
  std::atomic<uint32_t> probed;  // members that finished the CMA probe
  std::atomic<uint32_t> calibrated;  // steps of the calibration, summed over members
};
static_assert(sizeof(Header) <= kLine);

// Each member's line about cross-memory attach. Written before the member
// counts itself in `attached` (buffer, token, wishes) or `probed` (result),
// read by the others after they see that count: the counter's release and
// acquire order the plain fields.
struct ProbeLine {
  uint64_t buffer;     // address of kProbeWords copies of `token` in the member's memory
  uint64_t token;
  uint64_t min_bytes;  // the member's WEFT_SHM_CMA_MIN_BYTES
  uint64_t copy_min_bytes;  // its threshold for allgather and broadcast (CmaConfig)
  uint32_t wants;      // its WEFT_SHM_CMA: kOff, kCalibrated or kUncalibrated
  int32_t result;      // 0: read every peer; else the errno (or kWrongBytes) of the first failure
  int32_t failed_peer; // local index of the peer that failed
  uint64_t calibration_buffer;  // the member's buffer of the calibration (shm/calibration.h)
  uint32_t cma_ns, copy_ns;     // its timed copies
};
static_assert(sizeof(ProbeLine) <= kLine);
constexpr uint32_t kOff = 0, kCalibrated = 1, kUncalibrated = 2;
constexpr int kProbeWords = 8;
constexpr int32_t kWrongBytes = -1;  // the read worked but returned other bytes
static_assert(2 * transport::OpHeader::kSize <= kLine);
static_assert(16 + Group::kBoxPayload == Group::kBoxLines * kLine,
              "a box: step and seq, descriptor, payload");

size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

size_t flags_offset() { return kLine; }
size_t descs_offset(int n) { return flags_offset() + kLine * static_cast<size_t>(n); }
size_t probes_offset(int n) { return descs_offset(n) + kLine * static_cast<size_t>(n); }
size_t addrs_offset(int n) { return probes_offset(n) + kLine * static_cast<size_t>(n); }
size_t boxes_offset(int n) { return addrs_offset(n) + kLine * static_cast<size_t>(n); }
size_t slots_offset(int n) {
  return round_up(boxes_offset(n) + 2 * Group::kBoxLines * kLine * static_cast<size_t>(n), kPage);
}

Header& header_of(const Segment& s) { return *reinterpret_cast<Header*>(s.data()); }
ProbeLine& probe_line(const Segment& s, int n, int local) {
  return *reinterpret_cast<ProbeLine*>(s.data() + probes_offset(n) + kLine * static_cast<size_t>(local));
}

// Reads every peer's probe buffer; returns 0 or the first failure (and who).
int32_t probe_peers(const Segment& s, const std::vector<Member>& members, int me, int32_t& failed) {
  const int n = static_cast<int>(members.size());
  for (int i = 1; i < n; ++i) {
    const int q = (me + i) % n;
    const ProbeLine& theirs = probe_line(s, n, q);
    uint64_t got[kProbeWords] = {};
    int32_t result = cma::read(members[static_cast<size_t>(q)].pid, got, theirs.buffer, sizeof got);
    if (result == 0 && std::count(got, got + kProbeWords, theirs.token) != kProbeWords)
      result = kWrongBytes;
    if (result != 0) {
      failed = q;
      return result;
    }
  }
  return 0;
}

// The group's choice, the same on every member: every line is read from the segment.
struct CmaChoice {
  bool on = false;
  size_t min_bytes = 0, copy_min_bytes = 0;
  int uncalibrated_by = -1;  // a rank with WEFT_SHM_CMA_CALIBRATE=0
  std::string status;
};
std::string on_status(const CmaChoice& choice, const std::string& calibration) {
  return str("on for operations that read >= ", choice.min_bytes,
             " bytes from each peer (allgather and broadcast: >= ", choice.copy_min_bytes,
             ") (every rank read every other's memory at init; ", calibration, ")");
}

CmaChoice decide_cma(const Segment& s, const std::vector<Member>& members) {
  const int n = static_cast<int>(members.size());
  CmaChoice choice;
  for (int q = 0; q < n; ++q) {
    const ProbeLine& line = probe_line(s, n, q);
    if (!line.wants) {
      choice.status = str("off: WEFT_SHM_CMA=0 on rank ", members[static_cast<size_t>(q)].rank);
      return choice;
    }
    choice.min_bytes = std::max<size_t>(choice.min_bytes, line.min_bytes);
    choice.copy_min_bytes = std::max<size_t>(choice.copy_min_bytes, line.copy_min_bytes);
    if (line.wants == kUncalibrated && choice.uncalibrated_by < 0)
      choice.uncalibrated_by = members[static_cast<size_t>(q)].rank;
  }
  for (int q = 0; q < n; ++q) {
    const ProbeLine& line = probe_line(s, n, q);
    if (line.result == 0) continue;
    const Member& peer = members[static_cast<size_t>(line.failed_peer)];
    choice.status = str("off: rank ", members[static_cast<size_t>(q)].rank, " could not read rank ",
                        peer.rank, "'s memory (pid ", peer.pid, "): ",
                        line.result == kWrongBytes
                            ? std::string("process_vm_readv returned other bytes (another pid namespace?)")
                            : str("process_vm_readv: ", std::strerror(line.result)),
                        line.result == EPERM ? " (Yama ptrace_scope, or another user?)" : "");
    return choice;
  }
  choice.on = true;
  // Calibrated: calibrate() says what it found.
  if (choice.uncalibrated_by >= 0)
    choice.status = on_status(choice, str("not calibrated: WEFT_SHM_CMA_CALIBRATE=0 on rank ",
                                          choice.uncalibrated_by));
  return choice;
}

// The calibration (shm/calibration.h), once the probe has shown that every
// member reads every other: each times copies from its successor, all at
// once, then everyone decides from everyone's times, the same way.
void calibrate(CmaChoice& choice, const Segment& s, const std::vector<Member>& members, int me,
               size_t half_bytes, const JoinWait& join, char* buffer, char* scratch, size_t bytes) {
  const auto started = std::chrono::steady_clock::now();
  const int n = static_cast<int>(members.size()), next = (me + 1) % n;
  Header& h = header_of(s);
  char* slots = s.data() + slots_offset(n);
  uint32_t steps = 0;
  auto sync = [&] {
    ++steps;
    h.calibrated.fetch_add(1, std::memory_order_acq_rel);
    auto all_in = [&] {
      return h.calibrated.load(std::memory_order_acquire) >= steps * static_cast<uint32_t>(n);
    };
    // The others are a copy away: yield for a while (which also runs them
    // where members outnumber CPUs) before the join's 100 us polls.
    for (auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(500);
         !all_in() && std::chrono::steady_clock::now() < until;)
      std::this_thread::yield();
    join.until(all_in, "not every rank of this host finished timing its copies");
  };
  const CalibrationSide side{slots + 2 * half_bytes * static_cast<size_t>(me),
                             buffer,
                             scratch,
                             slots + 2 * half_bytes * static_cast<size_t>(next),
                             members[static_cast<size_t>(next)].pid,
                             probe_line(s, n, next).calibration_buffer,
                             bytes};
  const CopyTimes mine = time_copies(side, sync);
  ProbeLine& line = probe_line(s, n, me);
  line.cma_ns = mine.cma_ns;
  line.copy_ns = mine.copy_ns;
  sync();  // everyone's times are in
  std::vector<CopyTimes> all;
  std::vector<int> ranks;
  for (int q = 0; q < n; ++q) {
    all.push_back({probe_line(s, n, q).cma_ns, probe_line(s, n, q).copy_ns});
    ranks.push_back(members[static_cast<size_t>(q)].rank);
  }
  std::string why;
  choice.on = single_copy_pays(all.data(), ranks.data(), n, bytes, why);
  why += str(" (timed in ", std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - started).count(), " us)");
  choice.status = choice.on ? on_status(choice, why)
                            : str("off: ", why, ": the two copies through the segment are faster "
                                  "here (WEFT_SHM_CMA_CALIBRATE=0 keeps the single copy)");
}

}  // namespace

size_t segment_bytes(int n, size_t half_bytes) {
  return slots_offset(n) + 2 * half_bytes * static_cast<size_t>(n);
}

std::unique_ptr<Group> Group::join(const std::string& name, std::vector<Member> members,
                                   int self_rank, size_t half_bytes,
                                   transport::Transport* transport, Clock::time_point deadline,
                                   CmaConfig cma) {
  const int n = static_cast<int>(members.size());
  auto it = std::find_if(members.begin(), members.end(),
                         [&](const Member& m) { return m.rank == self_rank; });
  WEFT_ASSERT(it != members.end() && n >= 2);
  const int me = static_cast<int>(it - members.begin());
  half_bytes = round_up(std::max<size_t>(half_bytes, kPage), kPage);
  const size_t bytes = segment_bytes(n, half_bytes);
  // Pre-faulting costs each process ~bytes/4 KiB page-table entries; worth it
  // while the segment is small, not for hundreds of ranks.
  const bool populate = bytes <= (size_t{64} << 20);
  JoinWait join(members, me, self_rank, name, deadline);
  try {
    Segment segment;
    if (me == 0) {
      segment = Segment::create(name, bytes, populate);
      Header& h = header_of(segment);
      h.members = static_cast<uint32_t>(n);
      h.half_bytes = half_bytes;
      h.magic.store(kMagic, std::memory_order_release);
    } else {
      join.until([&] { return (segment = Segment::try_open(name, bytes, populate)).data(); },
               "not created");
      Header& h = header_of(segment);
      join.until([&] { return h.magic.load(std::memory_order_acquire) == kMagic; },
               "never initialised");
      WEFT_REQUIRE(h.members == static_cast<uint32_t>(n) && h.half_bytes == half_bytes,
                   "shared memory segment ", name, " was made for ", h.members, " ranks of ",
                   h.half_bytes, " bytes, not ", n, " of ", half_bytes);
    }
    // What this member offers for the probe: a buffer the others read (it
    // lives until every member has probed, below).
    Header& h = header_of(segment);
    std::string allowed = cma.enabled ? cma::allow_peers() : "";
    // Volatile: only other processes read it, through the kernel, so the
    // compiler must not drop the stores as dead.
    volatile uint64_t probe_buffer[kProbeWords];
    const uint64_t token = std::random_device{}() * 0x9e3779b97f4a7c15ull ^
                           static_cast<uint64_t>(::getpid()) ^ 1;
    for (volatile uint64_t& word : probe_buffer) word = token;
    ProbeLine& mine = probe_line(segment, n, me);
    mine.buffer = reinterpret_cast<uintptr_t>(&probe_buffer[0]);
    mine.token = token;
    mine.min_bytes = cma.min_bytes;
    // Allgather and broadcast only copy: through the segment every byte is
    // written into lines the peers have cached (the write costs about twice
    // the peers' read on the 2-core VM), so the single copy wins from far
    // smaller messages, as long as every member has a CPU to make its system
    // calls on (4 ranks on 2 cores: it lost at 128 KiB).
    mine.copy_min_bytes =
        outnumber_cpus(n) ? cma.min_bytes
                          : std::min<uint64_t>(cma.min_bytes, static_cast<uint64_t>(std::max<int64_t>(
                                                                  0, env::get_int("WEFT_SHM_CMA_COPY_MIN_BYTES"))));
    mine.wants = !cma.enabled ? kOff : cma.calibrate ? kCalibrated : kUncalibrated;
    mine.result = 0;
    // The calibration's buffers (only while joining): its own, which its
    // predecessor reads, and where it copies to.
    const size_t calibration_bytes = std::min(kCalibrationBytes, half_bytes);
    AlignedBuffer calibration_buffer, calibration_scratch;
    if (mine.wants == kCalibrated) {
      mine.calibration_buffer = reinterpret_cast<uintptr_t>(calibration_buffer.get(calibration_bytes));
      calibration_scratch.get(calibration_bytes);
    }
    // Every member maps it, then the name goes: from here on no crash can
    // leave the segment behind.
    h.attached.fetch_add(1, std::memory_order_acq_rel);
    join.until([&] { return h.attached.load(std::memory_order_acquire) >= static_cast<uint32_t>(n); },
             "not every rank of this host mapped it");
    segment.unlink();
    // The probe: a real read of every peer's memory, when every member
    // wants it; then everyone decides from everyone's result.
    bool everyone_wants = true;
    for (int q = 0; q < n; ++q) everyone_wants &= probe_line(segment, n, q).wants != 0;
    if (everyone_wants) mine.result = probe_peers(segment, members, me, mine.failed_peer);
    h.probed.fetch_add(1, std::memory_order_acq_rel);
    join.until([&] { return h.probed.load(std::memory_order_acquire) >= static_cast<uint32_t>(n); },
             "not every rank of this host finished the cross-memory-attach probe");
    CmaChoice choice = decide_cma(segment, members);
    if (choice.on && choice.uncalibrated_by < 0)
      calibrate(choice, segment, members, me, half_bytes, join, calibration_buffer.data(),
                calibration_scratch.data(), calibration_bytes);
    auto group = std::unique_ptr<Group>(
        new Group(std::move(segment), std::move(members), me, half_bytes, transport));
    group->pidfds_ = join.take_pidfds();
    group->cma_ = choice.on;
    group->cma_min_bytes_ = choice.min_bytes;
    group->cma_copy_min_bytes_ = choice.copy_min_bytes;
    group->cma_status_ = allowed.empty() ? choice.status : str(choice.status, "; ", allowed);
    return group;
  } catch (...) {
    // Whoever gives up removes the name (a creator that died cannot).
    ::shm_unlink(name.c_str());
    throw;
  }
}

Group::Group(Segment segment, std::vector<Member> members, int me, size_t half_bytes,
             transport::Transport* transport)
    : segment_(std::move(segment)),
      members_(std::move(members)),
      me_(me),
      half_bytes_(half_bytes),
      transport_(transport),
      flags_offset_(flags_offset()),
      descs_offset_(descs_offset(local_size())),
      addrs_offset_(addrs_offset(local_size())),
      boxes_offset_(boxes_offset(local_size())),
      slots_offset_(slots_offset(local_size())),
      spin_for_(outnumber_cpus(local_size()) ? kSpinShared : kSpinAlone),
      yield_for_(outnumber_cpus(local_size())
                     ? std::chrono::microseconds(std::max<int64_t>(0, env::get_int("WEFT_SHM_YIELD_US")))
                     : std::chrono::microseconds(0)) {}

Group::~Group() = default;

std::atomic<uint32_t>& Group::waiters(int local) const {
  return *reinterpret_cast<std::atomic<uint32_t>*>(segment_.data() + flags_offset_ +
                                                   kLine * static_cast<size_t>(local) + 8);
}

std::atomic<uint64_t>& Group::flag(int local) const {
  return *reinterpret_cast<std::atomic<uint64_t>*>(segment_.data() + flags_offset_ +
                                                   kLine * static_cast<size_t>(local));
}

char* Group::slot(int local, int half) const {
  return segment_.data() + slots_offset_ +
         half_bytes_ * (2 * static_cast<size_t>(local) + static_cast<size_t>(half));
}

size_t Group::desc_offset(int local, int half) const {
  return descs_offset_ + kLine * static_cast<size_t>(local) +
         transport::OpHeader::kSize * static_cast<size_t>(half);
}

const transport::OpHeader& Group::desc(int local, int half) const {
  return *reinterpret_cast<const transport::OpHeader*>(segment_.data() + desc_offset(local, half));
}

void Group::publish(int half, const void* a, const void* b) {
  auto* line = reinterpret_cast<uint64_t*>(segment_.data() + addrs_offset_ + kLine * static_cast<size_t>(me_));
  line[2 * half] = reinterpret_cast<uint64_t>(a);
  line[2 * half + 1] = reinterpret_cast<uint64_t>(b);
}

uint64_t Group::published(int local, int half, int which) const {
  const auto* line = reinterpret_cast<const uint64_t*>(segment_.data() + addrs_offset_ +
                                                       kLine * static_cast<size_t>(local));
  return line[2 * half + which];
}

void Group::read_peer(int local, void* dst, uint64_t remote, size_t bytes) {
  if (bytes == 0) return;
  if (int err = cma::read(members_[static_cast<size_t>(local)].pid, dst, remote, bytes))
    cma_failed(local, "process_vm_readv", bytes, err);
}

void Group::write_peer(int local, uint64_t remote, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (int err = cma::write(members_[static_cast<size_t>(local)].pid, remote, src, bytes))
    cma_failed(local, "process_vm_writev", bytes, err);
}

void Group::cma_failed(int local, const char* call, size_t bytes, int err) {
  // A peer that is exiting loses its memory before its pidfd says it has
  // exited: give that a moment, so that a dead peer is PeerLost.
  for (int i = 0; i < 200; ++i) {
    check_alive();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const Member& m = members_[static_cast<size_t>(local)];
  throw_system_error(str(call, " of ", bytes, " bytes, peer rank ", m.rank, " (pid ", m.pid,
                         ") (shared memory, cross-memory attach)"),
                     err);
}

int Group::begin_round(const transport::OpHeader& desc, Clock::time_point deadline) {
  const int half = static_cast<int>(rounds_++ & 1);
  round_desc_ = desc;
  wait_all(free_after_[half], deadline);
  std::memcpy(segment_.data() + desc_offset(me_, half), &desc, sizeof desc);
  return half;
}

void Group::box_free(Clock::time_point deadline) {
  // After an exchange that waited for every peer this holds at once. After
  // one that did not (a rooted operation), a peer may lag one step; none
  // can be further behind or ahead, since each waits here before every
  // step it publishes, so a box's word shows either its latest step or the
  // one two before, and box_passed's equality test is exact.
  if (box_all_seen_ < box_step_) wait_every_box(box_step_, deadline);
}

void Group::wait_every_box(uint64_t step, Clock::time_point deadline) {
  for (int q = 0; q < local_size(); ++q)
    if (q != me_ && !box_passed(q, step)) {
      wait_slow(-1, step, deadline, /*box=*/true);
      break;
    }
  box_all_seen_ = step;
}

int Group::box_exchange(uint64_t desc, uint64_t seq, Clock::time_point deadline, BoxWait wait,
                        int only) {
  box_free(deadline);  // the caller wrote its payload after it; this is for callers without one
  const uint64_t step = ++box_step_;
  const int parity = static_cast<int>(step & 1);
  box_desc_ = desc;
  box_seq_ = seq;
  char* line = box_line(me_, parity);
  std::memcpy(line + 8, &desc, 8);
  // One store publishes payload, descriptor and step (seq_cst: the waiter
  // count below must not be read before it, see sleep_on; a release store
  // measured the same on the 2-core VM, bench/results/cpu.md).
  std::atomic<uint64_t>& word = box_word(me_, parity);
  word.store((seq << 32) | static_cast<uint32_t>(step), std::memory_order_seq_cst);
  if (waiters(me_).load(std::memory_order_seq_cst) != 0)
    futex::wake_all(futex::low_half(word), futex::Scope::shared);
  if (wait == BoxWait::one && only != me_) {
    if (!box_passed(only, step)) wait_slow(only, step, deadline, /*box=*/true);
  } else if (wait == BoxWait::all) {
    wait_every_box(step, deadline);
  }
  return parity;
}

void Group::mismatch(const std::string& mine, int local, const std::string& theirs) const {
  throw_error(ErrorCode::Mismatch, str(mine, " on rank ", global_rank(me_),
                                       " does not match peer rank ", global_rank(local), "'s ",
                                       theirs, " (seen in shared memory)"));
}

// Called from a slow wait. A peer on the same path as this member never
// moves the other sequence past this member's position; one that does runs
// another operation here, unless it has in fact passed what this member
// waits for (its later operation may be on the other path): that is looked
// at again after seeing the other sequence (acquire), so it is final.
void Group::check_path(int local, bool box, uint64_t target) {
  if (box) {
    // A round of the peer's that this member has not started.
    if (flag(local).load(std::memory_order_acquire) <= phase_ || box_passed(local, target)) return;
    const int half = static_cast<int>(rounds_ & 1);
    mismatch(describe_box_(box_desc_, static_cast<uint32_t>(box_seq_)), local,
             describe_header_(desc(local, half)));
  }
  // A box exchange of the peer's that this member has not started.
  const uint64_t step = box_step_ + 1;
  if (!box_passed(local, step) || passed(local, target)) return;
  const int parity = static_cast<int>(step & 1);
  mismatch(describe_header_(round_desc_), local,
           describe_box_(box_desc(local, parity), box_seq(local, parity)));
}

void Group::wait_all(uint64_t phase, Clock::time_point deadline) {
  if (phase <= all_passed_) return;  // seen before: no peer's line is read
  for (int q = 0; q < local_size(); ++q)
    if (q != me_ && !passed(q, phase)) {
      wait_slow(-1, phase, deadline);
      break;
    }
  all_passed_ = phase;
}

void Group::wait(int local, uint64_t phase, Clock::time_point deadline) {
  if (!passed(local, phase)) wait_slow(local, phase, deadline);
}

void Group::wait_slow(int only, uint64_t target, Clock::time_point deadline, bool box) {
  // The spin counts from the first look at the clock, 64 pauses in: most
  // waits end before that, and a clock read costs as much as a few dozen
  // of them.
  Clock::time_point start{}, last_alive_check{};
  int next = only >= 0 ? only : 0;
  const int end = only >= 0 ? only + 1 : local_size();
  auto done = [&] {
    while (next < end &&
           (next == me_ || (box ? box_passed(next, target) : passed(next, target))))
      ++next;
    return next == end;
  };
  bool yielding = false;
  for (uint32_t spins = 0;; ++spins) {
    if (done()) return;
    if (!yielding && spins % 64 != 63) {
      cpu_relax();
      continue;
    }
    const auto now = Clock::now();
    if (start == Clock::time_point{}) start = last_alive_check = now;
    if (now - start < spin_for_) continue;
    if (now - start < spin_for_ + yield_for_) {
      yielding = true;
      sched_yield();
      continue;
    }
    // Sleep on the peer's counter until it signals, at most a millisecond
    // at a time to look at the deadline, failures and liveness.
    sleep_on(next, target, box);
    // Each failure is judged only after looking at the counters once more:
    // a peer may have completed this phase and exited (its last operation
    // done) since the last look. Seen after its exit, its counter is final.
    if (transport_)
      if (auto failure = transport_->failure()) {
        if (done()) return;
        std::rethrow_exception(failure);
      }
    if (describe_box_)  // set by the collectives layer (unit tests of the group use no boxes)
      for (int q = next; q < end; ++q)
        if (q != me_) check_path(q, box, target);
    if (now > deadline && !done()) timed_out(only, target, box);
    if (now - last_alive_check >= std::chrono::milliseconds(20)) {
      last_alive_check = now;
      if (first_exited(pidfds_) >= 0 && !done()) check_alive();
    }
  }
}

static_assert(std::endian::native == std::endian::little,
              "the futex word is the low half of the 64-bit phase counter");

// The futex word is the low half of the 64-bit counter (little endian): it
// changes with every signal. Dekker-style with the waiter count: the waiter
// registers then re-reads the counter, the signaller stores the counter then
// reads the count (both seq_cst), so one of them always sees the other.
//
// A box's word has the step in its low half; it is the futex word of
// waits for boxes, with the same waiter count (a signaller that finds
// waiters wakes only its word's sleepers; the others' sleeps end within
// their millisecond).
void Group::sleep_on(int local, uint64_t target, bool box) {
  std::atomic<uint64_t>& f = box ? box_word(local, target & 1) : flag(local);
  std::atomic<uint32_t>& sleepers = waiters(local);
  sleepers.fetch_add(1, std::memory_order_seq_cst);
  const uint64_t seen = f.load(std::memory_order_seq_cst);
  if (box ? static_cast<uint32_t>(seen) != static_cast<uint32_t>(target) : seen < target) {
    futex::wait_for(futex::low_half(f), static_cast<uint32_t>(seen), std::chrono::milliseconds(1),
                    futex::Scope::shared);
  }
  sleepers.fetch_sub(1, std::memory_order_relaxed);
}

uint64_t Group::signal() {
  std::atomic<uint64_t>& f = flag(me_);
  f.store(++phase_, std::memory_order_seq_cst);
  if (waiters(me_).load(std::memory_order_seq_cst) != 0)
    futex::wake_all(futex::low_half(f), futex::Scope::shared);
  return phase_;
}

void Group::check_alive() {
  const int q = first_exited(pidfds_);
  if (q < 0) return;
  // A peer that failed (timed out, found a mismatch) tells the transport
  // why before it exits, and its exit may be seen here before this rank's
  // progress thread has read that notice (a loaded machine delays it). The
  // cause is the failure to report, not the exit: the transport judges every
  // exit itself (its liveness check, a socket's end), so its verdict is
  // awaited a while; this rank's own PeerLost is the fallback when none
  // comes (no transport, or a peer it has no connection to).
  if (transport_) {
    const auto until = Clock::now() + kTransportVerdictWait;
    do {
      if (auto failure = transport_->failure()) std::rethrow_exception(failure);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } while (Clock::now() < until);
  }
  const Member& m = members_[static_cast<size_t>(q)];
  throw_error(ErrorCode::PeerLost, str("peer rank ", m.rank, " (pid ", m.pid,
                                       ") exited while this rank waited for it in shared memory"));
}

void Group::timed_out(int only, uint64_t target, bool box) {
  std::string who;
  int count = 0;
  for (int q = 0; q < local_size(); ++q) {
    if (q == me_ || (only >= 0 && q != only) ||
        (box ? box_passed(q, target) : passed(q, target)))
      continue;
    who += str(count++ ? ", " : "", members_[static_cast<size_t>(q)].rank);
  }
  throw_error(ErrorCode::Timeout, str("timed out waiting in shared memory for ",
                                      count == 1 ? "peer rank " : "peer ranks ", who));
}

}  // namespace weft::shm
