// Poller: a thin epoll wrapper (level-triggered) plus an eventfd "waker" so
// another thread can interrupt wait() — how an event loop is told to stop.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <span>

#include "net/fd.h"

namespace weft::net {

class Poller {
 public:
  Poller();

  // `token` comes back in the event's data.u64 (e.g. a connection id).
  void add(int fd, uint32_t events, uint64_t token);
  void modify(int fd, uint32_t events, uint64_t token);
  void remove(int fd) noexcept;

  // Waits up to timeout_ms (-1 forever) and fills `events`; returns how many
  // are ready (0 on timeout or EINTR).
  int wait(std::span<epoll_event> events, int timeout_ms);

 private:
  Fd epoll_;
};

// An eventfd: wake() from any thread makes its fd readable until drain().
class Waker {
 public:
  Waker();
  int fd() const { return fd_.get(); }
  void wake() noexcept;
  void drain() noexcept;

 private:
  Fd fd_;
};

}  // namespace weft::net
