// Communicator::Impl — the engine behind the public Communicator.
//
// Collectives are queued in call order, numbered (the sequence number all
// ranks must agree on) and run one at a time, in that order, against the
// transport; the transport's own thread moves the bytes. Point-to-point
// operations bypass the queue: they are posted straight to the transport so
// that sends and receives can be issued in any order without deadlocking.
//
// Who runs a queued collective ("help while waiting"): a thread that blocks
// in Work::wait() on one that has not started runs the queue up to and
// including it itself, when no other thread is running one. A small
// collective then costs no thread hand-off: handing it to the worker thread
// and being woken at its end cost more than the shared-memory exchange
// itself (about 2.5 us each on the 2-core VMs, against ~2 us for a 1 KiB
// exchange). Whoever runs, one operation runs at a time (running_ is the
// token), in sequence order, through the same run().
//
// The communicator's worker thread runs the rest:
// - operations of kHelpMaxBytes or more, always (a hand-off is noise there,
//   they start at once, and the worker is the thread bound to a CPU);
// - operations nobody came to wait for: when the callers have neither
//   queued nor run one for the grace period, or the oldest has been queued
//   for kMaxUnclaimed, so that asynchronous operations progress while the
//   caller computes; once it runs one it keeps going until a thread comes
//   to wait; at once when a thread polls one (Work::test(), completed(),
//   wait(timeout): they never run it themselves). A caller queuing a batch
//   before waiting on it is not
//   interrupted (two threads of one rank would share its core). The grace
//   adapts: kGraceMin after the worker had to take one (the callers run
//   ahead), doubling up to kGraceMax with every operation a waiting thread
//   ran.
// While an operation ended or was queued within kStandby the worker polls
// every grace period instead of being woken, so that submit() + wait() make
// no system call; idle longer, it sleeps and the next submit() wakes it.
//
// A blocking collective (OpOptions::blocking) that finds nothing queued and
// nothing running takes the token and runs at once on the calling thread,
// without a queue entry or a Work state (run_now); otherwise it is queued
// and waited for like any other.
//
// Failure handling lives here: an error inside an operation (Timeout from its
// deadline, PeerLost/Mismatch/Aborted from the transport) becomes the
// communicator's sticky root cause, is sent to the peers, fails the
// operation's Work, and fails every later operation fast.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "coll/context.h"
#include "coll/op_desc.h"
#include "coll/planner.h"
#include "comm/device_comm.h"
#include "comm/op_log.h"
#include "comm/work_state.h"
#include "shm/group.h"
#include "transport/transport.h"
#include "weft/communicator.h"

namespace weft {

struct CommConfig {
  std::chrono::milliseconds timeout{std::chrono::seconds(600)};
  std::string algo = "auto";
  bool dump_on_error = false;
  // Reads WEFT_TIMEOUT_S, WEFT_ALGO, WEFT_DUMP_ON_ERROR; options override.
  static CommConfig from_env(const CommOptions& options);
};

class Communicator::Impl : public Work::State::Helper,
                           public std::enable_shared_from_this<Communicator::Impl> {
 public:
  // What a queued collective runs: a plain function and its arguments, held
  // in the queue entry itself (a capturing std::function allocated for
  // every operation). `extra` holds what the v-variants need besides.
  struct Args {
    const void* in = nullptr;
    void* out = nullptr;
    size_t count = 0;
    int root = -1;
    std::shared_ptr<const void> extra;
  };
  struct Body {
    void (*run)(coll::Context&, const coll::Planner&, const Args&);
    Args args;
  };

  Impl(std::unique_ptr<transport::Transport> transport, CommConfig config);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  transport::Transport& transport() { return *transport_; }
  const CommConfig& config() const { return config_; }

  // Queues a collective; `desc.seq` is assigned here. options.blocking:
  // returns once it is done (run_now() when it can).
  Work submit(coll::OpDesc desc, Body body, const OpOptions& options);
  Work p2p(bool is_send, void* buf, size_t count, DataType type, int peer, uint32_t tag,
           const OpOptions& options);
  void abort();
  // Work::wait() on one of this communicator's queued collectives: runs the
  // queue up to it on this thread when no thread is running an operation,
  // else waits for its turn (the one running hands over when it ends).
  void help(Work::State& target) override;
  // Work::test()/completed()/wait(timeout) on a queued collective: nobody
  // will run it on this thread, so the worker takes the queue at once.
  void nudge(const Work::State& target) override;

  // Set by the bootstrap: the communicator's id (shared by its ranks), the
  // options it was created with, and this rank's published entry.
  uint64_t comm_id = 0;
  CommOptions options;
  std::string self_entry;
  int nsocks = 1;
  uint64_t splits = 0;  // how many split() calls so far (all ranks agree)

  // CUDA communicators: runs the device-memory operations (null for host memory).
  std::unique_ptr<DeviceComm> device;
  // Host-memory communicators: register_buffer handles handed out (they do nothing).
  std::mutex registrations_mutex;
  uint64_t next_registration = 1;
  std::set<uint64_t> registrations;
  // Set by the bootstrap before the first operation: this host's shared
  // memory group (may be null) and where the ranks are.
  void set_topology(std::unique_ptr<shm::Group> shm, coll::Topology topology);

  // Objects the communicator keeps alive (an embedded store server, the
  // store of init_from_env).
  void keep_alive(std::shared_ptr<void> object) { keep_alive_.push_back(std::move(object)); }

 private:
  struct Op {
    coll::OpDesc desc;  // its text (desc.describe()) is made only when needed
    Body body;
    std::shared_ptr<Work::State> state;
    std::chrono::milliseconds timeout;
    uint64_t log_id;
    coll::Clock::time_point queued_at;
  };
  struct P2pWatch {
    transport::RequestPtr request;
    coll::Clock::time_point deadline;
    coll::OpDesc desc;  // described only when it times out
    std::chrono::milliseconds timeout;
  };

  static constexpr size_t kHelpMaxBytes = size_t{256} << 10;
  static constexpr std::chrono::microseconds kGraceMin{50}, kGraceMax{1000};
  static constexpr std::chrono::milliseconds kMaxUnclaimed{2}, kStandby{20};
  static bool workers_only(const coll::OpDesc& desc) { return desc.bytes() >= kHelpMaxBytes; }

  void worker_loop();
  void bind_worker(int local_rank, int local_size);
  // The CPU bind_worker() bound the worker to (-1: none); help() runs its
  // operations there too.
  std::atomic<int> bound_cpu_{-1};
  // Pops and runs the front operation on this thread, then completes its
  // Work; `lock` (on mutex_) is held on entry and on return, not during the
  // run. The caller checked that no operation is running.
  void run_front(std::unique_lock<std::mutex>& lock);
  // A blocking collective, run on the calling thread when nothing is queued
  // or running and it is not one of the worker's; nullopt (nothing done)
  // otherwise. `lock` (on mutex_) is held on entry, released on return.
  std::optional<Work> run_now(coll::OpDesc desc, const Body& body, const OpOptions& options,
                              std::unique_lock<std::mutex>& lock);
  // Runs one collective that started at `start`; returns its error (the
  // caller completes the Work).
  std::exception_ptr run(const coll::OpDesc& desc, const Body& body,
                         std::chrono::milliseconds timeout, coll::Clock::time_point start);
  // Before a run, under the lock: the token, and what the transport's
  // failures name as the current operation.
  void begin_run(const coll::OpDesc& desc);
  // After a run, under the lock: the op log, the token, the hand-over to
  // whoever waits for it.
  void end_run(uint64_t log_id, bool failed, coll::Clock::time_point end);
  void check_p2p_deadlines();
  void on_transport_failure(const Error& error);
  // The error an operation reports for the communicator's root cause.
  Error in_context(const std::string& what, std::exception_ptr root) const;
  std::chrono::milliseconds timeout_of(const OpOptions& options) const;

  const int rank_, size_;
  const CommConfig config_;
  coll::Planner planner_;
  coll::Scratch scratch_;
  OpLog log_;

  std::mutex mutex_;  // queue_, stop_, next_seq_, current_, p2p state, who runs, log_
  std::condition_variable cv_;          // the worker's
  std::condition_variable helpers_cv_;  // threads in help() waiting for their turn
  std::deque<Op> queue_;
  bool stop_ = false;
  bool running_ = false;       // a thread (worker or helper) is running an operation
  int waiting_helpers_ = 0;    // threads in help() waiting for running_ to clear
  bool worker_asleep_ = false; // past standby: submit() must wake it
  // When the worker, waiting, looks again by itself (min() while it runs).
  coll::Clock::time_point worker_wakes_at_ = coll::Clock::time_point::min();
  bool worker_owns_ = false;   // the worker ran the last operation: it runs the next at once
  bool nudged_ = false;        // a thread polls a queued operation: the worker runs it at once
  std::chrono::microseconds grace_ = kGraceMin;
  coll::Clock::time_point last_activity_{};  // an operation was queued or ended
  uint64_t next_seq_ = 0;
  // The operation running (its description is formatted when the transport
  // or abort() asks).
  bool has_current_ = false;
  coll::OpDesc current_;
  std::map<std::pair<int, uint32_t>, uint64_t> p2p_sent_, p2p_received_;
  std::vector<P2pWatch> p2p_watch_;
  size_t p2p_sweep_at_ = 64;  // p2p() sweeps completed entries at this size

  std::vector<std::shared_ptr<void>> keep_alive_;
  // Declared last: destroyed first, so its threads (which call back into
  // the members above) are gone before the members are.
  std::unique_ptr<transport::Transport> transport_;
  std::unique_ptr<shm::Group> shm_;  // guarded by mutex_ until set
  std::thread worker_;
};

}  // namespace weft
