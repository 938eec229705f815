#include "store/kv_state.h"

#include <algorithm>
#include <climits>

#include "weft/error.h"

namespace weft::store {

void KvState::set(const std::string& key, Bytes value, Woken& woken) {
  values_[key] = std::move(value);
  key_appeared(key, woken);
}

const Bytes* KvState::find(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

int64_t KvState::add(const std::string& key, int64_t delta, Woken& woken) {
  int64_t value = 0;
  if (auto it = values_.find(key); it != values_.end()) {
    int64_t current = 0;
    if (!parse_counter(it->second, current))
      throw_error(ErrorCode::InvalidArgument,
                  str("ADD on key '", key, "' whose value is not a decimal integer"));
    if (__builtin_add_overflow(current, delta, &value))
      throw_error(ErrorCode::InvalidArgument, str("ADD on key '", key, "' overflows int64"));
  } else {
    value = delta;
  }
  std::string text = std::to_string(value);
  values_[key] = Bytes(text.begin(), text.end());
  key_appeared(key, woken);
  return value;
}

Bytes KvState::compare_set(const std::string& key, std::span<const uint8_t> expected,
                           Bytes desired, Woken& woken) {
  auto it = values_.find(key);
  if (it == values_.end()) {
    if (!expected.empty()) return Bytes(expected.begin(), expected.end());
    values_[key] = desired;
    key_appeared(key, woken);
    return desired;
  }
  if (std::equal(it->second.begin(), it->second.end(), expected.begin(), expected.end()))
    it->second = std::move(desired);
  return it->second;
}

void KvState::append(const std::string& key, std::span<const uint8_t> value, Woken& woken) {
  Bytes& slot = values_[key];
  slot.insert(slot.end(), value.begin(), value.end());
  key_appeared(key, woken);
}

bool KvState::erase(const std::string& key) { return values_.erase(key) > 0; }

std::vector<std::string> KvState::keys() const {
  std::vector<std::string> out;
  out.reserve(values_.size());
  for (const auto& [key, value] : values_) out.push_back(key);
  return out;
}

bool KvState::barrier(ClientId client, const std::string& key, int64_t world, Woken& woken) {
  WEFT_ASSERT(!is_waiting(client));
  int64_t count = 1;
  if (auto it = values_.find(key); it != values_.end()) {
    int64_t current = 0;
    if (!parse_counter(it->second, current) || current == INT64_MAX)
      throw_error(ErrorCode::InvalidArgument,
                  str("BARRIER on key '", key, "' whose value is not a counter"));
    count = current + 1;
  }
  std::string text = std::to_string(count);
  values_[key] = Bytes(text.begin(), text.end());
  if (count >= world) {
    key_appeared(key, woken);
    return true;
  }
  waiters_[key].push_back(client);
  ++registrations_;
  pending_.emplace(client, Pending{1, {key}});
  return false;
}

bool KvState::present(const std::string& key) const {
  if (values_.count(key) > 0) return true;
  auto q = queues_.find(key);
  return q != queues_.end() && !q->second.empty();
}

bool KvState::check(std::span<const std::string> keys) const {
  return std::all_of(keys.begin(), keys.end(), [&](const std::string& k) { return present(k); });
}

void KvState::queue_push(const std::string& key, Bytes value, Woken& woken) {
  queues_[key].push_back(std::move(value));
  release_one(key, woken);
}

std::optional<Bytes> KvState::queue_pop(const std::string& key, int64_t& length_before) {
  auto it = queues_.find(key);
  if (it == queues_.end() || it->second.empty()) {
    length_before = 0;
    return std::nullopt;
  }
  length_before = static_cast<int64_t>(it->second.size());
  Bytes value = std::move(it->second.front());
  it->second.pop_front();
  if (it->second.empty()) queues_.erase(it);
  return value;
}

int64_t KvState::queue_len(const std::string& key) const {
  auto it = queues_.find(key);
  return it == queues_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

bool KvState::wait(ClientId client, std::span<const std::string> keys) {
  WEFT_ASSERT(!is_waiting(client));
  Pending pending;
  for (const std::string& key : keys) {
    if (present(key)) continue;
    waiters_[key].push_back(client);
    ++registrations_;
    pending.keys.push_back(key);
    ++pending.remaining;
  }
  if (pending.remaining == 0) return true;
  pending_.emplace(client, std::move(pending));
  return false;
}

bool KvState::cancel_wait(ClientId client) {
  auto it = pending_.find(client);
  if (it == pending_.end()) return false;
  for (const std::string& key : it->second.keys) unregister(client, key);
  pending_.erase(it);
  return true;
}


// Every waiter registered on `key` is one step closer; those with nothing
// left to wait for are released.
void KvState::key_appeared(const std::string& key, Woken& woken) {
  auto it = waiters_.find(key);
  if (it == waiters_.end()) return;
  std::vector<ClientId> clients = std::move(it->second);
  waiters_.erase(it);
  registrations_ -= clients.size();
  for (ClientId client : clients) {
    auto p = pending_.find(client);
    if (p == pending_.end()) continue;
    if (--p->second.remaining == 0) {
      woken.push_back(client);
      pending_.erase(p);
    }
  }
}

// A queue item can satisfy one popper only: release the first waiter.
void KvState::release_one(const std::string& key, Woken& woken) {
  auto it = waiters_.find(key);
  if (it == waiters_.end()) return;
  ClientId client = it->second.front();
  it->second.erase(it->second.begin());
  --registrations_;
  if (it->second.empty()) waiters_.erase(it);
  auto p = pending_.find(client);
  if (p == pending_.end()) return;
  if (--p->second.remaining == 0) {
    woken.push_back(client);
    pending_.erase(p);
  }
}

void KvState::unregister(ClientId client, const std::string& key) {
  auto it = waiters_.find(key);
  if (it == waiters_.end()) return;
  auto& clients = it->second;
  auto gone = std::remove(clients.begin(), clients.end(), client);
  registrations_ -= static_cast<size_t>(clients.end() - gone);
  clients.erase(gone, clients.end());
  if (clients.empty()) waiters_.erase(it);
}

}  // namespace weft::store
