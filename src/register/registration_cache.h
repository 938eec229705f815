// RegistrationCache: which address ranges of this process are registered, and
// where each peer sees them.
//
// A registration is a page-aligned range [begin, end) with a reference count
// and, per peer, the address at which that peer has mapped it (filled in by
// the layer that talks to the peers' registration services). Registering a
// buffer that lies inside a live registration reuses it (refs + 1), so a
// buffer registered once costs nothing the next time.
//
// Overlap policy: the ranges that lookups can find are kept DISJOINT. When a
// new range overlaps live registrations without being contained in one, a new
// registration covering the union is created and the overlapped ones are
// "superseded": they leave the lookup index but stay alive (with their peer
// mappings) until their own handles are deregistered. This is UCX's rcache
// merge policy. It keeps lookup a single ordered-map search (O(log n)): the
// only candidate that can contain [p, p+n) is the last range starting at or
// before p. The price is that a superseded range's pages are mapped twice on
// the peers until its owner deregisters it, which only happens when users
// register overlapping-but-not-nested buffers (rare in practice).
//
// Handles are per registration: registering a range twice returns the same
// handle twice and needs two deregistrations.
//
// Stale entries: a buffer freed and reallocated at the same address without
// being deregistered must not reuse the old peer mappings. Callers that can
// tell allocations apart pass a tag (CUDA: the allocation's buffer id); a
// hit or an overlap with a different tag is stale: it leaves the index (and
// lives on until deregistered) and does not widen the new registration.
//
// Not internally synchronized: the owner (the Registrar) must serialize
// calls, because a registration also involves exporting and talking to peers,
// which has to be atomic with the cache update anyway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace weft::reg {

// Typed handle of one registration; 0 is never a valid handle.
struct RegistrationHandle {
  uint64_t value = 0;
  explicit operator bool() const { return value != 0; }
  friend bool operator==(RegistrationHandle, RegistrationHandle) = default;
};

// Where one peer sees a registration: the address of the registration's
// first byte in the peer's address space, and the id by which the peer's
// registration service knows the mapping (to release it).
struct PeerMapping {
  int peer = -1;
  uintptr_t remote_begin = 0;
  uint64_t remote_id = 0;
};

struct Registration {
  RegistrationHandle handle;
  uintptr_t begin = 0;  // page-aligned
  uintptr_t end = 0;    // page-aligned, exclusive
  int64_t refs = 0;
  uint64_t tag = 0;     // identity of the memory behind the range (0: unknown)
  bool indexed = true;  // false once superseded by a merged registration
  std::vector<PeerMapping> peers;  // at most one per peer, sorted by peer

  size_t bytes() const { return end - begin; }
  bool contains(uintptr_t p, size_t n) const { return p >= begin && p <= end && n <= end - p; }
  const PeerMapping* peer(int rank) const;
  // The address at which `rank` sees local address `local` (inside this range).
  std::optional<uintptr_t> peer_address(int rank, const void* local) const;
};

class RegistrationCache {
 public:
  // page_size must be a power of two; 0 means the OS page size.
  explicit RegistrationCache(size_t page_size = 0);

  struct Registered {
    RegistrationHandle handle;
    bool created = false;  // a new registration: the caller maps it on the peers
    // Registrations that left the lookup index because `handle` now covers
    // them or they were stale (they stay alive until deregistered).
    std::vector<RegistrationHandle> superseded;
  };
  // Registers [ptr, ptr + bytes) rounded out to pages. Throws InvalidArgument
  // for a null pointer, zero bytes or a range that wraps the address space.
  Registered register_range(const void* ptr, size_t bytes, uint64_t tag = 0);

  // Drops one reference. When it was the last, the registration is removed
  // and returned so that the caller can release its peer mappings.
  // Throws InvalidArgument for an unknown (or already released) handle.
  std::optional<Registration> deregister(RegistrationHandle handle);

  // The indexed registration containing [ptr, ptr + bytes), or null. O(log n).
  const Registration* find(const void* ptr, size_t bytes) const;
  // The live registration of `handle` (indexed or superseded), or null.
  const Registration* get(RegistrationHandle handle) const;

  // Records (or replaces) where `mapping.peer` sees registration `handle`.
  void set_peer(RegistrationHandle handle, const PeerMapping& mapping);

  // Every live registration (indexed or superseded).
  std::vector<RegistrationHandle> handles() const;

  size_t page_size() const { return page_size_; }
  size_t live() const { return by_handle_.size(); }      // indexed + superseded
  size_t indexed() const { return index_.size(); }

 private:
  Registration* find_mut(uintptr_t p, size_t n) const;

  size_t page_size_;
  uint64_t next_handle_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Registration>> by_handle_;
  std::map<uintptr_t, Registration*> index_;  // begin -> registration, disjoint
};

}  // namespace weft::reg
