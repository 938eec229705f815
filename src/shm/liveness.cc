#include "shm/liveness.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weft::shm {

net::Fd open_pidfd(int64_t pid) {
#ifdef SYS_pidfd_open
  return net::Fd(static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0)));
#else
  (void)pid;
  return net::Fd();
#endif
}

int first_exited(const std::vector<net::Fd>& pidfds) {
  std::vector<pollfd> fds;
  std::vector<int> who;
  for (size_t q = 0; q < pidfds.size(); ++q) {
    if (!pidfds[q]) continue;
    fds.push_back({pidfds[q].get(), POLLIN, 0});
    who.push_back(static_cast<int>(q));
  }
  if (fds.empty() || ::poll(fds.data(), fds.size(), 0) <= 0) return -1;
  for (size_t i = 0; i < fds.size(); ++i)
    if (fds[i].revents & (POLLIN | POLLHUP)) return who[i];
  return -1;
}

}  // namespace weft::shm
