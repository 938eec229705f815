// KvState: the store's data and its semantics, independent of any socket.
//
// The server's event loop and the in-process HashStore both run every
// operation through this class, so a key behaves the same in either. It also
// keeps the bookkeeping of blocked WAITs: which client waits for which keys.
// Mutations report the waiters they released in a `woken` list; the server
// then sends those clients their STOP_WAITING byte.
//
// Not thread-safe: the server calls it from its one loop thread, HashStore
// under its mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/protocol.h"

namespace weft::store {

using ClientId = uint64_t;

class KvState {
 public:
  using Woken = std::vector<ClientId>;

  void set(const std::string& key, Bytes value, Woken& woken);
  // nullptr when missing.
  const Bytes* find(const std::string& key) const;
  // Adds to the decimal counter at key (missing = 0). Throws InvalidArgument
  // when the current value is not a decimal integer or the sum overflows.
  int64_t add(const std::string& key, int64_t delta, Woken& woken);
  // torch semantics: missing key + empty expected -> set, return desired;
  // missing key + non-empty expected -> unchanged, return expected;
  // present -> set if equal; return the value after the operation.
  Bytes compare_set(const std::string& key, std::span<const uint8_t> expected, Bytes desired,
                    Woken& woken);
  void append(const std::string& key, std::span<const uint8_t> value, Woken& woken);
  bool erase(const std::string& key);
  size_t size() const { return values_.size(); }
  // Every key with a value (not the queues), in no particular order.
  std::vector<std::string> keys() const;

  // BARRIER: adds 1 to the decimal counter at key without waking anybody;
  // when it reaches `world`, releases every client parked on the key and
  // returns true, otherwise parks `client` on it and returns false.
  bool barrier(ClientId client, const std::string& key, int64_t world, Woken& woken);

  // A key counts as present when it has a value or a non-empty queue.
  bool present(const std::string& key) const;
  bool check(std::span<const std::string> keys) const;

  // Queues live beside the key space (torch: GETNUMKEYS ignores them).
  // A push releases at most one waiter of that key (the next popper).
  void queue_push(const std::string& key, Bytes value, Woken& woken);
  // The queue's length before popping, and the popped value if any.
  std::optional<Bytes> queue_pop(const std::string& key, int64_t& length_before);
  int64_t queue_len(const std::string& key) const;

  // WAIT: true when every key is already present; otherwise registers the
  // client for the missing ones. A client has at most one pending wait.
  bool wait(ClientId client, std::span<const std::string> keys);
  bool is_waiting(ClientId client) const { return pending_.count(client) > 0; }
  // Forgets the client's pending wait (CANCEL_WAIT, disconnect); returns
  // whether there was one.
  bool cancel_wait(ClientId client);
  // Registered (client, key) pairs; 0 once nobody waits (a leak check).
  size_t waiter_entries() const { return registrations_; }
  size_t waiting_clients() const { return pending_.size(); }

 private:
  void key_appeared(const std::string& key, Woken& woken);
  void release_one(const std::string& key, Woken& woken);
  void unregister(ClientId client, const std::string& key);

  struct Pending {
    size_t remaining = 0;           // registrations not yet satisfied
    std::vector<std::string> keys;  // where it registered (some may be satisfied already)
  };
  std::unordered_map<std::string, Bytes> values_;
  std::unordered_map<std::string, std::deque<Bytes>> queues_;
  std::unordered_map<std::string, std::vector<ClientId>> waiters_;  // key -> clients, FIFO
  std::unordered_map<ClientId, Pending> pending_;
  size_t registrations_ = 0;  // total entries in waiters_
};

}  // namespace weft::store
