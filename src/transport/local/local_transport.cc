#include "transport/local/local_transport.h"

#include <cstring>

#include "core/copy.h"

namespace weft::transport {

std::shared_ptr<LocalHub> LocalHub::create(int size) {
  auto hub = std::make_shared<LocalHub>();
  hub->endpoints_.assign(static_cast<size_t>(size), nullptr);
  return hub;
}

std::unique_ptr<LocalTransport> LocalHub::make(int rank, HeaderFormatter formatter) {
  return std::make_unique<LocalTransport>(shared_from_this(), rank, std::move(formatter));
}

LocalTransport::LocalTransport(std::shared_ptr<LocalHub> hub, int rank, HeaderFormatter formatter)
    : Transport(rank, hub->size(), std::move(formatter)), hub_(std::move(hub)) {
  std::lock_guard lock(hub_->mutex_);
  WEFT_ASSERT(hub_->endpoints_[rank] == nullptr);
  hub_->endpoints_[rank] = this;
}

LocalTransport::~LocalTransport() {
  // Later sends to this rank fail with PeerLost (start_send finds no endpoint).
  std::lock_guard lock(hub_->mutex_);
  hub_->endpoints_[rank()] = nullptr;
}

void LocalTransport::start_send(const RequestPtr& request, const OpHeader* header) {
  std::lock_guard lock(hub_->mutex_);  // keeps the peer alive during the copy
  LocalTransport* peer = hub_->endpoints_[request->peer];
  if (!peer) {
    std::string message = str("rank ", rank(), ": peer rank ", request->peer,
                              " is gone during ", context());
    request->fail(std::make_exception_ptr(Error(ErrorCode::PeerLost, message)));
    return;
  }
  peer->deliver(rank(), request, header);
  request->complete();
}

void LocalTransport::deliver(int from, const RequestPtr& send, const OpHeader* header) {
  try {
    SlotPtr slot = matcher().on_fragment(from, send->tag, send->bytes, header);
    if (send->bytes && !land([&] { copy_bytes(slot->dest(), send->data, send->bytes); }))
      return;  // failed: the receive's buffer may be gone
    matcher().on_bytes(slot, send->bytes);
  } catch (const Error& e) {
    // The receiver found the mismatch; it fails itself and tells the others.
    fail(e.code(), str("rank ", rank(), ": ", e.message()));
  }
}

void LocalTransport::broadcast_failure(ErrorCode code, const std::string& message) {
  // Called without the hub lock from fail(); peers relay on their own.
  std::vector<LocalTransport*> peers;
  {
    std::lock_guard lock(hub_->mutex_);
    for (auto* t : hub_->endpoints_)
      if (t && t != this) peers.push_back(t);
  }
  // Peers cannot disappear between the copy and the calls in tests that
  // destroy transports only after joining their threads.
  for (auto* t : peers) t->on_peer_failure(rank(), code, message);
}

}  // namespace weft::transport
