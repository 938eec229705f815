// Futex waits and wakes on a 32-bit word, for the few places that sleep on a
// word another thread or process stores to (a Work's completion, the shared
// memory group's flags and boxes, the shm transport's doorbell). Each caller
// keeps its own protocol (who counts sleepers, what the word means); this
// only names the system call's modes.
//
// Scope: `process` words live in this process's memory only (FUTEX_PRIVATE:
// the kernel skips the shared-mapping lookup); `shared` words live in memory
// mapped by several processes.
//
// A wait returns when woken, when the word no longer holds `expected` (at
// once), at its timeout or deadline, or spuriously: callers re-check.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <ctime>

namespace weft::futex {

enum class Scope { process, shared };

// The 32-bit futex word of a 64-bit atomic: its low half (x86-64 and arm64
// are little-endian), for words whose low half changes on every store that
// a sleeper must see.
inline const std::atomic<uint32_t>& low_half(const std::atomic<uint64_t>& word) {
  static_assert(sizeof(std::atomic<uint64_t>) == 8 && sizeof(std::atomic<uint32_t>) == 4);
  return *reinterpret_cast<const std::atomic<uint32_t>*>(&word);
}

namespace detail {
inline int op(int base, Scope scope) { return scope == Scope::process ? base | FUTEX_PRIVATE_FLAG : base; }
inline uint32_t* address(const std::atomic<uint32_t>& word) {
  return reinterpret_cast<uint32_t*>(const_cast<std::atomic<uint32_t>*>(&word));
}
}  // namespace detail

// Sleeps while `word` holds `expected`, at most `timeout`.
inline void wait_for(const std::atomic<uint32_t>& word, uint32_t expected, std::chrono::nanoseconds timeout,
                     Scope scope) {
  if (timeout.count() <= 0) return;
  struct timespec ts = {static_cast<time_t>(timeout.count() / 1000000000),
                        static_cast<long>(timeout.count() % 1000000000)};
  ::syscall(SYS_futex, detail::address(word), detail::op(FUTEX_WAIT, scope), expected, &ts, nullptr, 0);
}

// Sleeps while `word` holds `expected`, until woken (no timeout).
inline void wait(const std::atomic<uint32_t>& word, uint32_t expected, Scope scope) {
  ::syscall(SYS_futex, detail::address(word), detail::op(FUTEX_WAIT, scope), expected, nullptr, nullptr, 0);
}

// Sleeps while `word` holds `expected`, until `deadline` (steady_clock is
// CLOCK_MONOTONIC, the clock FUTEX_WAIT_BITSET's absolute time is on).
inline void wait_until(const std::atomic<uint32_t>& word, uint32_t expected,
                       std::chrono::steady_clock::time_point deadline, Scope scope) {
  const auto since_epoch = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
  if (since_epoch.count() <= 0) return;
  struct timespec ts = {static_cast<time_t>(since_epoch.count() / 1000000000),
                        static_cast<long>(since_epoch.count() % 1000000000)};
  ::syscall(SYS_futex, detail::address(word), detail::op(FUTEX_WAIT_BITSET, scope), expected, &ts, nullptr,
            FUTEX_BITSET_MATCH_ANY);
}

// Wakes every thread sleeping on `word`.
inline void wake_all(const std::atomic<uint32_t>& word, Scope scope) {
  ::syscall(SYS_futex, detail::address(word), detail::op(FUTEX_WAKE, scope), INT_MAX, nullptr, nullptr, 0);
}

}  // namespace weft::futex
