// Deadline: an absolute point on the steady clock, so a chain of blocking
// calls (connect, then send, then receive) shares one time budget instead of
// each getting the full timeout.
#pragma once

#include <algorithm>
#include <chrono>
#include <climits>

namespace weft::net {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  // A deadline that never passes.
  static Deadline never() { return Deadline(Clock::time_point::max()); }
  static Deadline after(std::chrono::milliseconds timeout) {
    if (timeout >= std::chrono::hours(24 * 365)) return never();
    return Deadline(Clock::now() + timeout);
  }
  explicit Deadline(Clock::time_point at) : at_(at) {}

  bool infinite() const { return at_ == Clock::time_point::max(); }
  bool passed() const { return !infinite() && Clock::now() >= at_; }
  Clock::time_point at() const { return at_; }
  std::chrono::milliseconds remaining() const {
    if (infinite()) return std::chrono::milliseconds::max();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }
  // Milliseconds for poll()/epoll_wait(): -1 when infinite, rounded up so a
  // wait never returns just before the deadline and spins.
  int poll_timeout_ms() const {
    if (infinite()) return -1;
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(at_ - Clock::now());
    if (left.count() <= 0) return 0;
    auto ms = (left.count() + 999) / 1000;
    return static_cast<int>(std::min<long long>(ms, INT_MAX));
  }
  // The earlier of two deadlines.
  Deadline min(const Deadline& other) const { return at_ <= other.at_ ? *this : other; }

 private:
  Clock::time_point at_;
};

}  // namespace weft::net
