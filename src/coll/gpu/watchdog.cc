// The GPU communicator's watchdog: the reason a dead or stuck peer never
// hangs a GPU.
//
// Kernels cannot see a peer die: they spin on a flag the peer will never
// write. The watchdog watches two things from the host and, on failure,
// raises the host-mapped abort word those spins poll:
//   * liveness: each peer's registration connection. A peer's service closes
//     it when the peer process exits (even by SIGKILL: the kernel closes its
//     sockets), so POLLHUP/POLLRDHUP names the lost peer within milliseconds.
//   * deadlines: the oldest pending operation past its timeout.
//
// A closed connection is also what an orderly peer looks like once it has
// destroyed its communicator, possibly while this rank is still finishing
// the last operation they shared (its kernels read the peer's scratch, which
// stays mapped here). So a departure fails the communicator only if an
// operation is still pending a grace period later; operations enqueued after
// it fail at once.
#include <poll.h>

#include <vector>

#include "coll/gpu/gpu_comm_impl.h"
#include "weft/log.h"

namespace weft::gpu {
namespace {

constexpr int kPollMs = 20;
constexpr auto kDepartureGrace = std::chrono::milliseconds(1000);

}  // namespace

void GpuComm::Impl::start_watchdog() {
  watchdog_ = std::thread([this] { watchdog_loop(); });
}

void GpuComm::Impl::watchdog_loop() {
  log::ScopedRank scoped(rank);
  cudaSetDevice(config.device);  // event queries below act on this device
  std::vector<pollfd> fds;
  std::vector<int> peers;
  std::chrono::steady_clock::time_point departed_at;
  for (auto& [peer, client] : clients_) {
    fds.push_back(pollfd{client->liveness_fd(), POLLRDHUP, 0});
    peers.push_back(peer);
  }
  while (!stop_watchdog_.load()) {
    // Drop completed operations; find the oldest pending one.
    std::shared_ptr<GpuOp::Record> oldest;
    {
      std::lock_guard lock(pending_mu_);
      while (!pending_.empty()) {
        if (cudaEventQuery(pending_.front()->done) == cudaErrorNotReady) {
          oldest = pending_.front();
          break;
        }
        pending_.pop_front();
      }
    }
    const auto now = std::chrono::steady_clock::now();
    int ready = fds.empty() ? 0 : ::poll(fds.data(), fds.size(), kPollMs);
    if (fds.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
    for (size_t i = 0; ready > 0 && i < fds.size(); ++i) {
      if (fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
        departed_peer_ = peers[i];
        departed_at = now;
        WEFT_INFO("gpu", "rank ", rank, ": peer rank ", peers[i], " closed its IPC connection");
        fds.clear();  // noticed once; keep serving deadlines and stop requests
        peers.clear();
        break;
      }
    }
    if (const int gone = departed_peer_.load(); gone >= 0 && now - departed_at > kDepartureGrace) {
      const std::string why = str(" peer rank ", gone, " is gone (its process exited: its IPC connection closed)");
      if (oldest) {
        fail(Error(ErrorCode::PeerLost, str("rank ", rank, ": ", oldest->description, ":", why)));
      } else if (!failure->get()) {
        // Nothing tracked is pending, but kernels of a replayed CUDA graph
        // (untracked) may be spinning on the departed peer: abort them too.
        // This is also the normal end of a job whose ranks finish at
        // different times, so it is not worth a warning.
        WEFT_INFO("gpu", "rank ", rank, ":", why, "; the communicator can no longer be used");
        failure->set(Error(ErrorCode::PeerLost, str("rank ", rank, ":", why)));
        __atomic_store_n(&host_words_[0], 1, __ATOMIC_RELEASE);
      }
    }
    if (oldest && now > oldest->deadline) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout).count();
      fail(Error(ErrorCode::Timeout,
                 str("rank ", rank, ": ", oldest->description, " did not complete within ", ms,
                     " ms; some peer of ranks 0..", size - 1,
                     " did not reach it (a rank that skipped the call, or a stuck process)")));
    }
  }
}

}  // namespace weft::gpu
