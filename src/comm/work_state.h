// The shared completion state behind weft::Work: set once by weft's threads,
// read by the caller's. A GPU operation completes on the device instead: its
// state gets a poller (does the device say it finished? throws its failure)
// that done() and the waits call, so no thread has to watch it.
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

  // `poll` returns true once the operation is complete and throws its error.
  // Set before the Work is handed out.
  void set_poller(std::function<bool()> poll) { poll_ = std::move(poll); }

  // Waits until done or `deadline`; returns false on deadline.
  bool wait_until(std::chrono::steady_clock::time_point deadline) const;
  void wait() const;
  bool done() const;
  // done(), after polling the device where there is a poller.
  bool finished() const { return poll_ ? poll() : done(); }
  std::exception_ptr error() const;
  const std::string& description() const { return description_; }

 private:
  // Polls the device for a state with a poller; true once complete.
  bool poll() const;

  std::string description_;
  std::function<bool()> poll_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

}  // namespace weft
