#include "shm/join_wait.h"

#include "shm/liveness.h"
#include "weft/error.h"

namespace weft::shm {

JoinWait::JoinWait(const std::vector<Member>& members, int me, int self_rank, std::string segment,
                   Clock::time_point deadline)
    : members_(members), self_rank_(self_rank), segment_(std::move(segment)), deadline_(deadline) {
  for (size_t q = 0; q < members.size(); ++q)
    pidfds_.push_back(static_cast<int>(q) == me ? net::Fd() : open_pidfd(members[q].pid));
}

void JoinWait::timed_out(const char* what) const {
  throw_error(ErrorCode::Timeout, str("rank ", self_rank_, ": shared memory segment ", segment_,
                                      ": ", what, " in time"));
}

void JoinWait::throw_if_member_exited() const {
  if (int q = first_exited(pidfds_); q >= 0)
    throw_error(ErrorCode::PeerLost,
                str("rank ", self_rank_, ": peer rank ", members_[static_cast<size_t>(q)].rank,
                    " (pid ", members_[static_cast<size_t>(q)].pid,
                    ") exited before mapping shared memory segment ", segment_));
}

}  // namespace weft::shm
