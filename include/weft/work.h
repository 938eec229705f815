// weft::Work — the handle every operation returns.
//
// A Work completes exactly once, successfully or with a weft::Error. The
// error of an operation that failed on a background thread is stored here and
// rethrown by wait()/test(); nothing escapes weft's threads. Copies of a Work
// share the same state. A default-constructed Work is already complete.
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <string>

namespace weft {

class Work {
 public:
  Work() = default;

  // Blocks until the operation completes; rethrows its error. The operation's
  // own timeout (WEFT_TIMEOUT_S or the per-op timeout) bounds the wait.
  void wait() const;
  // Blocks at most `timeout`; throws Timeout naming the operation when it is
  // still running then (the operation itself keeps running), rethrows its error.
  void wait(std::chrono::milliseconds timeout) const;
  // True when complete; rethrows the error of a failed operation.
  bool test() const;
  // True when complete (successfully or not); never throws.
  bool completed() const;
  // The stored error, or nullptr while running or after success.
  std::exception_ptr exception() const;
  // "allreduce #12 (1 MiB f32 sum)" — what this Work stands for.
  std::string describe() const;

  // Implementation handle (src/comm/work_state.h).
  class State;
  explicit Work(std::shared_ptr<State> state) : state_(std::move(state)) {}
  const std::shared_ptr<State>& state() const { return state_; }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace weft
