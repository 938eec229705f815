// Registrar: register_buffer(ptr, bytes) -> handle, deregister(handle).
//
// The whole sending side of the seed's registration flow in one place: the
// cache decides whether the buffer is already registered (reuse, refs + 1);
// a new registration is exported once (Exporter) and imported by every peer's
// registration service (RegistrationClient), and the address each peer sees
// it at is stored in the cache entry. peer_address() turns a local pointer
// into the pointer a peer uses (kernels get these). Deregistering the last
// reference releases the mappings on every peer.
//
// Peers are named by their service addresses (exchanged through the Store by
// the communicator); connections open on first use. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "ipc/registration_client.h"
#include "register/exporter.h"
#include "register/registration_cache.h"

namespace weft::reg {

class Registrar {
 public:
  struct Peer {
    int rank = -1;
    std::string address;  // the peer's RegistrationService
  };
  // `exporter` must outlive the registrar.
  Registrar(int rank, Exporter& exporter, std::vector<Peer> peers, std::chrono::milliseconds timeout);
  // Releases what is still registered on the peers (best effort, logged).
  ~Registrar();
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  // Registers the buffer with every peer. On failure nothing stays
  // registered and the peer's error (with its rank) is rethrown.
  RegistrationHandle register_buffer(const void* ptr, size_t bytes);
  void deregister(RegistrationHandle handle);

  // Where `peer` sees local address `ptr`, which must lie in registration `handle`.
  uintptr_t peer_address(RegistrationHandle handle, int peer, const void* ptr) const;

  // Where each peer sees [ptr, ptr + bytes) when one live registration
  // covers it: by_rank[peer] for every peer (other entries untouched).
  // False when no registration covers the range. O(log n).
  bool peer_addresses(const void* ptr, size_t bytes, std::span<uintptr_t> by_rank) const;

  // Registrations alive (for tests and logs).
  size_t live() const;

 private:
  ipc::RegistrationClient& client(int peer);
  void release_on_peers(const Registration& r) noexcept;

  int rank_;
  Exporter& exporter_;
  std::vector<Peer> peers_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  RegistrationCache cache_;
  std::map<int, std::unique_ptr<ipc::RegistrationClient>> clients_;
};

}  // namespace weft::reg
