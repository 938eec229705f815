// HashStore: the store in one process — a KvState under a mutex, with a
// condition variable standing in for the server's waiter lists.
#include <condition_variable>
#include <mutex>

#include "store/kv_state.h"
#include "weft/error.h"
#include "weft/store.h"

namespace weft {

struct HashStore::State {
  std::mutex mutex;
  std::condition_variable changed;
  store::KvState kv;
  store::KvState::Woken ignored;  // no remote waiters here

  // Every mutation may satisfy a waiter.
  template <typename F>
  auto mutate(F&& f) {
    std::lock_guard<std::mutex> lock(mutex);
    ignored.clear();
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      changed.notify_all();
    } else {
      auto result = f();
      changed.notify_all();
      return result;
    }
  }

  // Waits (lock held) until every key is present or the timeout passes.
  void wait_for(std::unique_lock<std::mutex>& lock, std::span<const std::string> keys,
                std::chrono::milliseconds timeout, const char* op) {
    bool ok = changed.wait_for(lock, timeout, [&] { return kv.check(keys); });
    if (ok) return;
    std::string missing;
    for (const auto& key : keys)
      if (!kv.present(key)) missing += (missing.empty() ? "" : ", ") + key;
    throw_error(ErrorCode::Timeout, str("HashStore: ", op, " timed out after ", timeout.count(),
                                        " ms; missing: ", missing));
  }
};

HashStore::HashStore() : state_(std::make_unique<State>()) {}
HashStore::~HashStore() = default;

void HashStore::set(std::string_view key, std::span<const uint8_t> value) {
  state_->mutate([&] { state_->kv.set(std::string(key), Bytes(value.begin(), value.end()), state_->ignored); });
}

Bytes HashStore::get(std::string_view key) {
  std::unique_lock<std::mutex> lock(state_->mutex);
  std::string k(key);
  state_->wait_for(lock, std::span<const std::string>(&k, 1), timeout_, "get");
  return *state_->kv.find(k);
}

int64_t HashStore::add(std::string_view key, int64_t delta) {
  return state_->mutate([&] { return state_->kv.add(std::string(key), delta, state_->ignored); });
}

Bytes HashStore::compare_set(std::string_view key, std::span<const uint8_t> expected,
                             std::span<const uint8_t> desired) {
  return state_->mutate([&] {
    return state_->kv.compare_set(std::string(key), expected, Bytes(desired.begin(), desired.end()),
                                  state_->ignored);
  });
}

bool HashStore::check(std::span<const std::string> keys) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->kv.check(keys);
}

void HashStore::wait(std::span<const std::string> keys, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_->mutex);
  state_->wait_for(lock, keys, timeout, "wait");
}

bool HashStore::delete_key(std::string_view key) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->kv.erase(std::string(key));
}

int64_t HashStore::num_keys() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return static_cast<int64_t>(state_->kv.size());
}

std::vector<Bytes> HashStore::multi_get(std::span<const std::string> keys) {
  std::unique_lock<std::mutex> lock(state_->mutex);
  state_->wait_for(lock, keys, timeout_, "multi_get");
  std::vector<Bytes> out;
  for (const auto& key : keys) {
    const Bytes* value = state_->kv.find(key);
    out.push_back(value ? *value : Bytes());
  }
  return out;
}

void HashStore::multi_set(std::span<const std::string> keys, std::span<const Bytes> values) {
  WEFT_REQUIRE(keys.size() == values.size(), "HashStore: multi_set got ", keys.size(),
               " keys but ", values.size(), " values");
  state_->mutate([&] {
    for (size_t i = 0; i < keys.size(); ++i) state_->kv.set(keys[i], values[i], state_->ignored);
  });
}

void HashStore::append(std::string_view key, std::span<const uint8_t> value) {
  state_->mutate([&] { state_->kv.append(std::string(key), value, state_->ignored); });
}

void HashStore::queue_push(std::string_view key, std::span<const uint8_t> value) {
  state_->mutate([&] {
    state_->kv.queue_push(std::string(key), Bytes(value.begin(), value.end()), state_->ignored);
  });
}

std::optional<Bytes> HashStore::queue_pop(std::string_view key, bool block) {
  std::unique_lock<std::mutex> lock(state_->mutex);
  std::string k(key);
  if (block) {
    bool ok = state_->changed.wait_for(lock, timeout_, [&] { return state_->kv.queue_len(k) > 0; });
    if (!ok)
      throw_error(ErrorCode::Timeout, str("HashStore: queue_pop timed out after ",
                                          timeout_.count(), " ms; missing: ", k));
  }
  int64_t length = 0;
  return state_->kv.queue_pop(k, length);
}

int64_t HashStore::queue_len(std::string_view key) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->kv.queue_len(std::string(key));
}

}  // namespace weft
