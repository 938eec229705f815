// The shared completion state behind weft::Work: set once by weft's threads,
// read by the caller's. A GPU operation completes on the device instead: its
// state gets a poller (does the device say it finished? throws its failure)
// that done() and the waits call, so no thread has to watch it. A queued
// host collective gets a helper instead (its communicator): a thread that
// blocks in wait() first asks the helper to run the queued operations up to
// this one on the waiting thread itself (comm_impl.h says why and how).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "coll/op_desc.h"
#include "weft/work.h"

namespace weft {

class Work::State {
 public:
  // Runs queued operations on the calling thread: help(s) returns once `s`
  // is done, or as soon as it cannot help (wait() then blocks as before).
  // nudge(s): a thread looks at `s` without running it (test(), a timed
  // wait): have it started elsewhere now.
  class Helper {
   public:
    virtual void help(State& state) = 0;
    virtual void nudge(const State& state) = 0;

   protected:
    ~Helper() = default;
  };

  explicit State(std::string description) : description_(std::move(description)) {}
  // A queued collective's: "rank R: <desc.describe()>", formatted only when
  // asked for (an error, Work::describe()): formatting it for every
  // operation cost more than the shared-memory exchange of a small one.
  State(int rank, const coll::OpDesc& desc) : rank_(rank), desc_(desc), lazy_(true) {}

  // The first completion wins; later ones are ignored.
  void complete();
  void fail(std::exception_ptr error);

  // `poll` returns true once the operation is complete and throws its error.
  // Set before the Work is handed out.
  void set_poller(std::function<bool()> poll) { poll_ = std::move(poll); }
  // The helper wait() asks first, and the operation's sequence number in its
  // queue. Set before the Work is handed out. Weak: a Work may outlive its
  // communicator (wait() then only blocks).
  void set_helper(std::weak_ptr<Helper> helper, uint64_t seq) {
    helper_ = std::move(helper);
    seq_ = seq;
  }
  uint64_t seq() const { return seq_; }

  // Waits until done or `deadline`; returns false on deadline.
  bool wait_until(std::chrono::steady_clock::time_point deadline) const;
  void wait() const;
  bool done() const;
  // done(), after polling the device where there is a poller, or after
  // nudging the helper of an operation still queued.
  bool finished() const;
  std::exception_ptr error() const;
  std::string description() const;

 private:
  // Polls the device for a state with a poller; true once complete.
  bool poll() const;
  // Sleeps until done, or until *deadline (false then) when given.
  bool sleep_until_done(const std::chrono::steady_clock::time_point* deadline) const;

  // Takes the first completion; false (once the winner is done) when
  // another took it.
  bool claim();
  // Marks the state done (error_ already set where it failed) and wakes
  // the threads asleep on it.
  void finish();

  // What word_ holds. A waiter turns running into watched before it sleeps
  // on the word; finish() swaps in done and wakes sleepers only when it took
  // watched away, so an operation nobody sleeps on completes without a
  // system call (and without a lock: a mutex and condition variable here
  // were a measurable part of a small collective's cost).
  enum Phase : uint32_t { kRunning = 0, kWatched = 1, kDone = 2 };

  mutable std::string description_;  // made once (describe_once_) while lazy_
  mutable std::once_flag describe_once_;
  int rank_ = -1;
  coll::OpDesc desc_;
  bool lazy_ = false;  // description_ is made from rank_ and desc_ when first asked for
  std::function<bool()> poll_;
  std::weak_ptr<Helper> helper_;
  uint64_t seq_ = 0;
  mutable std::atomic<uint32_t> word_{kRunning};  // waiters (const) turn running into watched
  // The first completion takes it; error_ is written by that one only,
  // before word_ turns done (release), and never after.
  std::atomic<bool> claimed_{false};
  std::exception_ptr error_;
};

}  // namespace weft
