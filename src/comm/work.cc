#include "comm/work_state.h"

#include "weft/error.h"

namespace weft {

void Work::State::complete() {
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
  }
  cv_.notify_all();
}

void Work::State::fail(std::exception_ptr error) {
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
    error_ = std::move(error);
  }
  cv_.notify_all();
}

bool Work::State::wait_until(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  return cv_.wait_until(lock, deadline, [&] { return done_; });
}

void Work::State::wait() const {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return done_; });
}

bool Work::State::done() const {
  std::lock_guard lock(mutex_);
  return done_;
}

std::exception_ptr Work::State::error() const {
  std::lock_guard lock(mutex_);
  return error_;
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
  if (!state_->done()) return false;
  if (auto e = state_->error()) std::rethrow_exception(e);
  return true;
}

bool Work::completed() const { return !state_ || state_->done(); }

std::exception_ptr Work::exception() const { return state_ ? state_->error() : nullptr; }

std::string Work::describe() const { return state_ ? state_->description() : "completed work"; }

}  // namespace weft
