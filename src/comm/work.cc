#include "comm/work_state.h"

#include <thread>

#include "core/futex.h"
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
  if (claim()) finish();
}

void Work::State::fail(std::exception_ptr error) {
  if (!claim()) return;
  error_ = std::move(error);
  finish();
}

bool Work::State::claim() {
  if (!claimed_.exchange(true, std::memory_order_acq_rel)) return true;
  // Another completion won: it is a few instructions from done. Return only
  // once it is, so that whoever completed this one sees the outcome that won.
  while (!done()) std::this_thread::yield();
  return false;
}

void Work::State::finish() {
  if (word_.exchange(kDone, std::memory_order_acq_rel) == kWatched)
    futex::wake_all(word_, futex::Scope::process);
}

std::string Work::State::description() const {
  std::call_once(describe_once_, [this] {
    if (lazy_) description_ = "rank " + std::to_string(rank_) + ": " + desc_.describe();
  });
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
  return sleep_until_done(&deadline);
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
  sleep_until_done(nullptr);
}

bool Work::State::sleep_until_done(const std::chrono::steady_clock::time_point* deadline) const {
  while (true) {
    uint32_t phase = word_.load(std::memory_order_acquire);
    if (phase == kDone) return true;
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return false;
    // Announce the sleep; a completion in between makes the swap fail.
    if (phase == kRunning && !word_.compare_exchange_weak(phase, kWatched, std::memory_order_acq_rel))
      continue;
    if (deadline)
      futex::wait_until(word_, kWatched, *deadline, futex::Scope::process);
    else
      futex::wait(word_, kWatched, futex::Scope::process);
  }
}

bool Work::State::done() const { return word_.load(std::memory_order_acquire) == kDone; }

std::exception_ptr Work::State::error() const {
  // error_ is set before word_ turns done, and never after.
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
