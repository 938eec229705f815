// The shared completion state behind weft::Work: set once by weft's threads,
// read by the caller's.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <string>

#include "weft/work.h"

namespace weft {

class Work::State {
 public:
  explicit State(std::string description) : description_(std::move(description)) {}

  // The first completion wins; later ones are ignored.
  void complete();
  void fail(std::exception_ptr error);

  // Waits until done or `deadline`; returns false on deadline.
  bool wait_until(std::chrono::steady_clock::time_point deadline) const;
  void wait() const;
  bool done() const;
  std::exception_ptr error() const;
  const std::string& description() const { return description_; }

 private:
  std::string description_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

}  // namespace weft
