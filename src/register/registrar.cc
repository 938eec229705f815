#include "register/registrar.h"

#include "weft/error.h"
#include "weft/log.h"

namespace weft::reg {

Registrar::Registrar(int rank, Exporter& exporter, std::vector<Peer> peers,
                     std::chrono::milliseconds timeout)
    : rank_(rank),
      exporter_(exporter),
      peers_(std::move(peers)),
      timeout_(timeout),
      cache_(exporter.granularity()) {}

Registrar::~Registrar() {
  // Drop every remaining reference so that the peers unmap before we go.
  for (RegistrationHandle h : cache_.handles()) {
    std::optional<Registration> gone;
    while (!gone) gone = cache_.deregister(h);
    release_on_peers(*gone);
  }
}

ipc::RegistrationClient& Registrar::client(int peer) {
  auto it = clients_.find(peer);
  if (it != clients_.end()) return *it->second;
  for (const Peer& p : peers_) {
    if (p.rank != peer) continue;
    auto c = std::make_unique<ipc::RegistrationClient>(p.address, rank_, peer, timeout_);
    return *clients_.emplace(peer, std::move(c)).first->second;
  }
  throw_error(ErrorCode::Internal, str("rank ", rank_, ": registrar has no address for peer rank ", peer));
}

void Registrar::release_on_peers(const Registration& r) noexcept {
  for (const PeerMapping& m : r.peers) {
    try {
      client(m.peer).release(m.remote_id);
    } catch (const std::exception& e) {
      // The peer is gone or broken; its service unmaps when the connection closes.
      WEFT_WARN("reg", "rank ", rank_, ": releasing registration at peer rank ", m.peer, ": ", e.what());
    }
  }
}

RegistrationHandle Registrar::register_buffer(const void* ptr, size_t bytes) {
  std::lock_guard lock(mu_);
  WEFT_REQUIRE(ptr != nullptr && bytes > 0, "rank ", rank_, ": register_buffer(", ptr, ", ", bytes,
               "): null or empty buffer");
  Extent ext = exporter_.extent(ptr, bytes);
  auto got = cache_.register_range(reinterpret_cast<const void*>(ext.begin), ext.end - ext.begin, ext.tag);
  if (!got.created) return got.handle;
  const Registration& r = *cache_.get(got.handle);
  try {
    ExportedRange ex = exporter_.export_range(r.begin, r.end);
    for (const Peer& p : peers_) {
      ipc::RemoteMapping m = client(p.rank).import(ex.desc);
      // The reply is where the peer sees `anchor`; store where it sees r.begin.
      cache_.set_peer(got.handle, {p.rank, m.address - (ex.anchor - r.begin), m.id});
    }
  } catch (...) {
    if (auto gone = cache_.deregister(got.handle)) release_on_peers(*gone);
    throw;
  }
  WEFT_TRACE("reg", "rank ", rank_, ": registered ", reinterpret_cast<void*>(r.begin), " + ",
             r.bytes(), " bytes with ", peers_.size(), " peer(s)");
  return got.handle;
}

void Registrar::deregister(RegistrationHandle handle) {
  std::lock_guard lock(mu_);
  if (auto gone = cache_.deregister(handle)) release_on_peers(*gone);
}

uintptr_t Registrar::peer_address(RegistrationHandle handle, int peer, const void* ptr) const {
  std::lock_guard lock(mu_);
  const Registration* r = cache_.get(handle);
  WEFT_REQUIRE(r != nullptr, "rank ", rank_, ": peer_address: unknown registration handle ", handle.value);
  auto a = r->peer_address(peer, ptr);
  WEFT_REQUIRE(a.has_value(), "rank ", rank_, ": peer_address: ", ptr, " is not in registration ",
               handle.value, " or peer rank ", peer, " has no mapping of it");
  return *a;
}

bool Registrar::peer_addresses(const void* ptr, size_t bytes, std::span<uintptr_t> by_rank) const {
  std::lock_guard lock(mu_);
  const Registration* r = cache_.find(ptr, bytes);
  if (r == nullptr) return false;
  for (const Peer& p : peers_) {
    auto a = r->peer_address(p.rank, ptr);
    if (!a || p.rank < 0 || static_cast<size_t>(p.rank) >= by_rank.size()) return false;
    by_rank[static_cast<size_t>(p.rank)] = *a;
  }
  return true;
}

size_t Registrar::live() const {
  std::lock_guard lock(mu_);
  return cache_.live();
}

}  // namespace weft::reg
