// PrefixStore: namespaces every key of a base store as "<prefix>/<key>", so
// several groups (or retries of a rendezvous) can share one server.
#include <algorithm>

#include "weft/error.h"
#include "weft/store.h"

namespace weft {

PrefixStore::PrefixStore(std::string prefix, std::shared_ptr<Store> base)
    : prefix_(std::move(prefix)), base_(std::move(base)) {
  WEFT_REQUIRE(base_ != nullptr, "PrefixStore '", prefix_, "' needs a base store");
  timeout_ = base_->timeout();
}

std::string PrefixStore::full(std::string_view key) const { return str(prefix_, "/", key); }

std::vector<std::string> PrefixStore::full(std::span<const std::string> keys) const {
  std::vector<std::string> out;
  out.reserve(keys.size());
  for (const auto& key : keys) out.push_back(full(key));
  return out;
}

void PrefixStore::set(std::string_view key, std::span<const uint8_t> value) {
  base_->set(full(key), value);
}

Bytes PrefixStore::get(std::string_view key) {
  // Our timeout governs: route through wait() with it, then read.
  std::vector<std::string> keys{full(key)};
  base_->wait(keys, timeout_);
  return base_->get(keys[0]);
}

int64_t PrefixStore::add(std::string_view key, int64_t delta) { return base_->add(full(key), delta); }

Bytes PrefixStore::compare_set(std::string_view key, std::span<const uint8_t> expected,
                               std::span<const uint8_t> desired) {
  return base_->compare_set(full(key), expected, desired);
}

bool PrefixStore::check(std::span<const std::string> keys) { return base_->check(full(keys)); }

void PrefixStore::wait(std::span<const std::string> keys, std::chrono::milliseconds timeout) {
  base_->wait(full(keys), timeout);
}

bool PrefixStore::delete_key(std::string_view key) { return base_->delete_key(full(key)); }

// The base store counts every key, not only this prefix's (as torch's does).
int64_t PrefixStore::num_keys() { return base_->num_keys(); }

std::vector<Bytes> PrefixStore::multi_get(std::span<const std::string> keys) {
  auto prefixed = full(keys);
  base_->wait(prefixed, timeout_);
  return base_->multi_get(prefixed);
}

void PrefixStore::multi_set(std::span<const std::string> keys, std::span<const Bytes> values) {
  base_->multi_set(full(keys), values);
}

void PrefixStore::append(std::string_view key, std::span<const uint8_t> value) {
  base_->append(full(key), value);
}

void PrefixStore::queue_push(std::string_view key, std::span<const uint8_t> value) {
  base_->queue_push(full(key), value);
}

std::optional<Bytes> PrefixStore::queue_pop(std::string_view key, bool block) {
  if (!block) return base_->queue_pop(full(key), false);
  // Block with our timeout, not the base's: wait for an item, then try to
  // take it (another popper may win it; then wait again).
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::vector<std::string> keys{full(key)};
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    base_->wait(keys, std::max(left, std::chrono::milliseconds(0)));
    if (auto value = base_->queue_pop(keys[0], false)) return value;
  }
}

int64_t PrefixStore::queue_len(std::string_view key) { return base_->queue_len(full(key)); }

}  // namespace weft
