// JoinWait: the waits of joining a host group's shared segment, shared by
// the shared-memory collectives (shm::Group) and the shared-memory
// point-to-point links (transport/shm). Member 0 creates the segment, the
// others open it and every member waits for the others' steps; each wait
// polls until its condition holds, fails with Timeout past the deadline, and
// with PeerLost as soon as another member's process exited (pidfds), instead
// of waiting out the deadline for a process that is gone.
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "net/fd.h"
#include "shm/group.h"

namespace weft::shm {

class JoinWait {
 public:
  // `me`: this process's index in `members`; `self_rank` names it in errors.
  JoinWait(const std::vector<Member>& members, int me, int self_rank, std::string segment,
           Clock::time_point deadline);

  // Polls `ready` until true; `what` completes "... <what> in time".
  template <typename Ready>
  void until(Ready ready, const char* what) const {
    for (int i = 0; !ready(); ++i) {
      if (Clock::now() > deadline_) timed_out(what);
      if (i % 64 == 0) throw_if_member_exited();
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  // The members' pidfds, for the group's liveness checks after the join.
  std::vector<net::Fd> take_pidfds() { return std::move(pidfds_); }

 private:
  [[noreturn]] void timed_out(const char* what) const;
  void throw_if_member_exited() const;

  const std::vector<Member>& members_;
  const int self_rank_;
  const std::string segment_;
  const Clock::time_point deadline_;
  std::vector<net::Fd> pidfds_;
};

}  // namespace weft::shm
