// Keeps the calling thread on one CPU for a scope (a thread that runs a
// rank's collectives outside its worker thread).
#pragma once

#include <pthread.h>
#include <sched.h>

namespace weft {

// While a waiting thread runs collectives it runs on its rank's CPU, like
// the worker (bind_worker): the scheduler sometimes leaves the unbound
// threads of two ranks of one host on one core, where they take turns (an
// 8 B allreduce then took ~48 us instead of ~3 on the 2-core VM under load).
// Moved only when it is elsewhere and its own mask allows that CPU; its mask
// is restored when the scope ends.
class OnCpu {
 public:
  explicit OnCpu(int cpu) {
    if (cpu < 0 || sched_getcpu() == cpu) return;
    if (pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_) != 0 ||
        !CPU_ISSET(cpu, &saved_))
      return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    moved_ = pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
  }
  ~OnCpu() {
    if (moved_) pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
  }
  OnCpu(const OnCpu&) = delete;
  OnCpu& operator=(const OnCpu&) = delete;

 private:
  cpu_set_t saved_;
  bool moved_ = false;
};

}  // namespace weft
