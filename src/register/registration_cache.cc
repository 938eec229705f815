#include "register/registration_cache.h"

#include <unistd.h>

#include <algorithm>

#include "weft/error.h"

namespace weft::reg {

const PeerMapping* Registration::peer(int rank) const {
  auto it = std::lower_bound(peers.begin(), peers.end(), rank,
                             [](const PeerMapping& m, int r) { return m.peer < r; });
  return it != peers.end() && it->peer == rank ? &*it : nullptr;
}

std::optional<uintptr_t> Registration::peer_address(int rank, const void* local) const {
  const PeerMapping* m = peer(rank);
  auto p = reinterpret_cast<uintptr_t>(local);
  if (m == nullptr || !contains(p, 0)) return std::nullopt;
  return m->remote_begin + (p - begin);
}

RegistrationCache::RegistrationCache(size_t page_size)
    : page_size_(page_size != 0 ? page_size : static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
  WEFT_REQUIRE((page_size_ & (page_size_ - 1)) == 0,
               "registration cache: page size ", page_size_, " is not a power of two");
}

Registration* RegistrationCache::find_mut(uintptr_t p, size_t n) const {
  // Indexed ranges are disjoint, so the only one that can contain p is the
  // last one that starts at or before p.
  auto it = index_.upper_bound(p);
  if (it == index_.begin()) return nullptr;
  --it;
  return it->second->contains(p, n) ? it->second : nullptr;
}

const Registration* RegistrationCache::find(const void* ptr, size_t bytes) const {
  return find_mut(reinterpret_cast<uintptr_t>(ptr), bytes);
}

const Registration* RegistrationCache::get(RegistrationHandle handle) const {
  auto it = by_handle_.find(handle.value);
  return it == by_handle_.end() ? nullptr : it->second.get();
}

RegistrationCache::Registered RegistrationCache::register_range(const void* ptr, size_t bytes,
                                                                uint64_t tag) {
  const auto p = reinterpret_cast<uintptr_t>(ptr);
  WEFT_REQUIRE(ptr != nullptr, "register: null buffer pointer");
  WEFT_REQUIRE(bytes > 0, "register: zero-byte buffer at ", ptr);
  WEFT_REQUIRE(p <= UINTPTR_MAX - page_size_ && bytes <= UINTPTR_MAX - page_size_ - p,
               "register: buffer ", ptr, " + ", bytes, " bytes wraps the address space");

  if (Registration* r = find_mut(p, bytes); r != nullptr && r->tag == tag) {
    ++r->refs;
    return {r->handle, false, {}};
  }

  uintptr_t begin = p & ~(uintptr_t{page_size_} - 1);
  uintptr_t end = (p + bytes + page_size_ - 1) & ~(uintptr_t{page_size_} - 1);

  // Collect every indexed range overlapping [begin, end): start from the last
  // range beginning at or before `begin`, walk right while ranges start
  // before `end`. Each overlapped range of the same memory (tag) widens the
  // union; one with another tag is stale and only leaves the index. Indexed
  // ranges are disjoint, so widening never reaches a range the walk skipped.
  Registered out;
  auto it = index_.upper_bound(begin);
  if (it != index_.begin() && std::prev(it)->second->end > begin) --it;
  while (it != index_.end() && it->first < end) {
    Registration* old = it->second;
    if (old->tag == tag) {
      begin = std::min(begin, old->begin);
      end = std::max(end, old->end);
    }
    old->indexed = false;
    out.superseded.push_back(old->handle);
    it = index_.erase(it);
  }

  auto reg = std::make_unique<Registration>();
  reg->handle = RegistrationHandle{next_handle_++};
  reg->begin = begin;
  reg->end = end;
  reg->refs = 1;
  reg->tag = tag;
  out.handle = reg->handle;
  out.created = true;
  index_.emplace(begin, reg.get());
  by_handle_.emplace(reg->handle.value, std::move(reg));
  return out;
}

std::optional<Registration> RegistrationCache::deregister(RegistrationHandle handle) {
  auto it = by_handle_.find(handle.value);
  WEFT_REQUIRE(it != by_handle_.end(),
               "deregister: unknown registration handle ", handle.value,
               " (never registered, or already fully deregistered)");
  Registration& r = *it->second;
  if (--r.refs > 0) return std::nullopt;
  if (r.indexed) index_.erase(r.begin);
  Registration gone = std::move(r);
  by_handle_.erase(it);
  return gone;
}

std::vector<RegistrationHandle> RegistrationCache::handles() const {
  std::vector<RegistrationHandle> out;
  out.reserve(by_handle_.size());
  for (const auto& [value, r] : by_handle_) out.push_back(r->handle);
  return out;
}

void RegistrationCache::set_peer(RegistrationHandle handle, const PeerMapping& mapping) {
  auto it = by_handle_.find(handle.value);
  WEFT_REQUIRE(it != by_handle_.end(), "register: unknown registration handle ", handle.value);
  auto& peers = it->second->peers;
  auto pos = std::lower_bound(peers.begin(), peers.end(), mapping.peer,
                              [](const PeerMapping& m, int r) { return m.peer < r; });
  if (pos != peers.end() && pos->peer == mapping.peer) {
    *pos = mapping;
  } else {
    peers.insert(pos, mapping);
  }
}

}  // namespace weft::reg
