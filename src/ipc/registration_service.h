// RegistrationService: the thread that maps peers' buffers into this process.
//
// This is the receiving half of the seed's registration flow (NCCL's
// p2pProxyRegister running in the proxy thread): a peer that wants this
// process to see one of its buffers exports it (a cuMem POSIX fd, a memfd,
// or a legacy CUDA IPC handle), connects to this service's Unix socket and
// sends an Import request with the fd attached. The service thread maps it
// through the Mapper and replies with the address at which this process sees
// the registered range. A Release request unmaps it. When a peer's connection
// closes (it finished, or it died), every mapping it still held here is
// unmapped, so a dead peer cannot leak address space or device memory.
//
// The service knows nothing about communicators: it needs a socket address
// (published to peers through the Store by whoever owns it) and a Mapper.
// Requests are served one at a time; mapping is rare (registration is cached)
// and serial service keeps the Mapper single-threaded. Only processes of the
// same user may connect (SO_PEERCRED), because a mapping request makes this
// process map memory chosen by someone else.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "ipc/mapper.h"
#include "ipc/unix_socket.h"

namespace weft::ipc {

// What happens to a peer's mappings when its connection closes.
//   unmap:           unmap at once (the default: nothing can be using them).
//   keep_until_stop: keep them until stop(). For memory that this process's
//                    kernels may be reading while the peer dies: unmapping it
//                    under a running kernel would turn a clean PeerLost into
//                    an illegal-address fault that poisons the CUDA context.
//                    The imported handle keeps the physical memory alive.
enum class OnPeerExit { unmap, keep_until_stop };

class RegistrationService {
 public:
  // Listens on `address` (see socket_address()) and starts the thread.
  // `mapper` must outlive the service.
  RegistrationService(std::string address, int rank, Mapper& mapper,
                      OnPeerExit on_peer_exit = OnPeerExit::unmap);
  ~RegistrationService();
  RegistrationService(const RegistrationService&) = delete;
  RegistrationService& operator=(const RegistrationService&) = delete;

  const std::string& address() const { return address_; }
  int rank() const { return rank_; }

  // Stops the thread and unmaps every mapping still held. Idempotent.
  void stop();

  // Mappings currently held for peers (for tests and logs).
  size_t live_mappings() const { return live_.load(std::memory_order_relaxed); }

 private:
  struct Loop;
  void run() noexcept;

  std::string address_;
  int rank_;
  Mapper& mapper_;
  OnPeerExit on_peer_exit_;
  UnixListener listener_;
  net::Fd wake_;  // eventfd: stop() signals it
  std::atomic<size_t> live_{0};
  std::thread thread_;
};

}  // namespace weft::ipc
