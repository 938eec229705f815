#include "comm/work_state.h"

#include <thread>

#include "weft/error.h"

namespace weft {
namespace {

// Pause between polls of a device operation: short at first (small
// collectives finish in microseconds), at most 200 us.
class Backoff {
 public:
  void pause() {
    std::this_thread::sleep_for(delay_);
    delay_ = std::min(delay_ * 2, std::chrono::microseconds(200));
  }

 private:
  std::chrono::microseconds delay_{1};
};

}  // namespace

bool Work::State::poll() const {
  if (done()) return true;
  bool complete = false;
  try {
    complete = poll_();
  } catch (...) {
    const_cast<State*>(this)->fail(std::current_exception());
    return true;
  }
  if (complete) const_cast<State*>(this)->complete();
  return complete;
}

void Work::State::complete() {
  bool wake;
  {
    std::lock_guard lock(mutex_);
    if (done_.load(std::memory_order_relaxed)) return;
    done_.store(true, std::memory_order_release);
    wake = sleepers_ > 0;
  }
  if (wake) cv_.notify_all();
}

void Work::State::fail(std::exception_ptr error) {
  bool wake;
  {
    std::lock_guard lock(mutex_);
    if (done_.load(std::memory_order_relaxed)) return;
    error_ = std::move(error);
    done_.store(true, std::memory_order_release);
    wake = sleepers_ > 0;
  }
  if (wake) cv_.notify_all();
}

std::string Work::State::description() const {
  std::lock_guard lock(mutex_);
  if (lazy_) {
    description_ = "rank " + std::to_string(rank_) + ": " + desc_.describe();
    lazy_ = false;
  }
  return description_;
}

bool Work::State::finished() const {
  if (poll_) return poll();
  if (done()) return true;
  if (auto helper = helper_.lock()) helper->nudge(*this);
  return done();
}

bool Work::State::wait_until(std::chrono::steady_clock::time_point deadline) const {
  if (auto helper = helper_.lock(); helper && !done()) helper->nudge(*this);
  if (poll_) {
    for (Backoff b; !poll(); b.pause())
      if (std::chrono::steady_clock::now() >= deadline) return false;
    return true;
  }
  if (done()) return true;
  std::unique_lock lock(mutex_);
  ++sleepers_;
  const bool ok =
      cv_.wait_until(lock, deadline, [&] { return done_.load(std::memory_order_relaxed); });
  --sleepers_;
  return ok;
}

void Work::State::wait() const {
  if (poll_) {
    // Bounded: the device path fails an operation past its timeout.
    for (Backoff b; !poll(); b.pause()) {
    }
    return;
  }
  // Only the untimed wait helps: an operation run here cannot be left at a
  // wait(timeout)'s deadline.
  if (done()) return;
  if (auto helper = helper_.lock(); helper && !done()) helper->help(const_cast<State&>(*this));
  if (done()) return;
  std::unique_lock lock(mutex_);
  ++sleepers_;
  cv_.wait(lock, [&] { return done_.load(std::memory_order_relaxed); });
  --sleepers_;
}

bool Work::State::done() const { return done_.load(std::memory_order_acquire); }

std::exception_ptr Work::State::error() const {
  // error_ is set before done_ is, and never after.
  return done() ? error_ : nullptr;
}

// ---------------------------------------------------------------------------
void Work::wait() const {
  if (!state_) return;
  // No deadline here: the operation's own timeout completes it with Timeout.
  state_->wait();
  if (auto e = state_->error()) std::rethrow_exception(e);
}

void Work::wait(std::chrono::milliseconds timeout) const {
  if (!state_) return;
  if (!state_->wait_until(std::chrono::steady_clock::now() + timeout))
    throw_error(ErrorCode::Timeout, str(state_->description(), ": not complete after ",
                                        timeout.count(), " ms (Work::wait timeout)"));
  if (auto e = state_->error()) std::rethrow_exception(e);
}

bool Work::test() const {
  if (!state_) return true;
  if (!state_->finished()) return false;
  if (auto e = state_->error()) std::rethrow_exception(e);
  return true;
}

bool Work::completed() const { return !state_ || state_->finished(); }

std::exception_ptr Work::exception() const { return state_ ? state_->error() : nullptr; }

std::string Work::describe() const { return state_ ? state_->description() : "completed work"; }

}  // namespace weft
