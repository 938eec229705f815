// Jittered exponential backoff for reconnect loops: when a thousand ranks
// start before the store, spreading their retries keeps them from hitting
// the server's accept queue in lockstep.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace weft::store {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial = std::chrono::milliseconds(10),
          std::chrono::milliseconds max = std::chrono::milliseconds(1000))
      : next_(initial), max_(max), rng_(std::random_device{}()) {}

  // The next delay: the current step times a random factor in [0.5, 1.5),
  // then the step doubles up to max.
  std::chrono::milliseconds next() {
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    auto delay = std::chrono::milliseconds(static_cast<long>(next_.count() * jitter(rng_)));
    next_ = std::min(next_ * 2, max_);
    return std::max(delay, std::chrono::milliseconds(1));
  }

 private:
  std::chrono::milliseconds next_;
  std::chrono::milliseconds max_;
  std::mt19937 rng_;
};

}  // namespace weft::store
