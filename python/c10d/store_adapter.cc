#include "store_adapter.h"

#include <c10/util/Exception.h>

#include "weft/error.h"

namespace weft::c10d_ext {
namespace {

std::vector<std::string> key_list(std::span<const std::string> keys) {
  return std::vector<std::string>(keys.begin(), keys.end());
}

std::string joined(std::span<const std::string> keys) {
  std::string out;
  for (const auto& k : keys) {
    out += (out.empty() ? "'" : ", '") + k + "'";
  }
  return out;
}

// Runs a torch store call, turning torch's errors into weft's: `code` for
// DistStoreError and friends, Unsupported when the store lacks the call.
template <typename F>
auto call(const char* what, ErrorCode code, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::NotImplementedError& e) {
    throw_error(ErrorCode::Unsupported,
                str("torch store: ", what, ": not supported by this store (",
                    e.what_without_backtrace(), ")"));
  } catch (const c10::Error& e) {
    throw_error(code, str("torch store: ", what, ": ", e.what_without_backtrace()));
  }
}

}  // namespace

TorchStore::TorchStore(c10::intrusive_ptr<::c10d::Store> store) : store_(std::move(store)) {
  set_timeout(store_->getTimeout());
}

void TorchStore::set(std::string_view key, std::span<const uint8_t> value) {
  call("set", ErrorCode::SystemError, [&] {
    store_->set(std::string(key), std::vector<uint8_t>(value.begin(), value.end()));
  });
}

Bytes TorchStore::get(std::string_view key) {
  const std::string k(key);
  wait(std::span<const std::string>(&k, 1), timeout());
  return call("get", ErrorCode::SystemError, [&] { return store_->get(k); });
}

int64_t TorchStore::add(std::string_view key, int64_t delta) {
  return call("add", ErrorCode::SystemError, [&] { return store_->add(std::string(key), delta); });
}

Bytes TorchStore::compare_set(std::string_view key, std::span<const uint8_t> expected,
                              std::span<const uint8_t> desired) {
  return call("compare_set", ErrorCode::SystemError, [&] {
    return store_->compareSet(std::string(key),
                              std::vector<uint8_t>(expected.begin(), expected.end()),
                              std::vector<uint8_t>(desired.begin(), desired.end()));
  });
}

bool TorchStore::check(std::span<const std::string> keys) {
  return call("check", ErrorCode::SystemError, [&] { return store_->check(key_list(keys)); });
}

void TorchStore::wait(std::span<const std::string> keys, std::chrono::milliseconds timeout) {
  try {
    store_->wait(key_list(keys), timeout);
  } catch (const c10::Error& e) {
    throw_error(ErrorCode::Timeout,
                str("torch store: waited ", timeout.count(), " ms for ", joined(keys), ": ",
                    e.what_without_backtrace()));
  }
}

bool TorchStore::delete_key(std::string_view key) {
  return call("delete_key", ErrorCode::SystemError,
              [&] { return store_->deleteKey(std::string(key)); });
}

int64_t TorchStore::num_keys() {
  return call("num_keys", ErrorCode::SystemError, [&] { return store_->getNumKeys(); });
}

std::vector<Bytes> TorchStore::multi_get(std::span<const std::string> keys) {
  wait(keys, timeout());
  return call("multi_get", ErrorCode::SystemError, [&] { return store_->multiGet(key_list(keys)); });
}

void TorchStore::multi_set(std::span<const std::string> keys, std::span<const Bytes> values) {
  call("multi_set", ErrorCode::SystemError, [&] {
    store_->multiSet(key_list(keys), std::vector<Bytes>(values.begin(), values.end()));
  });
}

void TorchStore::append(std::string_view key, std::span<const uint8_t> value) {
  call("append", ErrorCode::SystemError, [&] {
    store_->append(std::string(key), std::vector<uint8_t>(value.begin(), value.end()));
  });
}

void TorchStore::queue_push(std::string_view key, std::span<const uint8_t> value) {
  call("queue_push", ErrorCode::SystemError, [&] {
    store_->queuePush(std::string(key), std::vector<uint8_t>(value.begin(), value.end()));
  });
}

std::optional<Bytes> TorchStore::queue_pop(std::string_view key, bool block) {
  return call("queue_pop", block ? ErrorCode::Timeout : ErrorCode::SystemError,
              [&]() -> std::optional<Bytes> {
                try {
                  return store_->queuePop(std::string(key), block);
                } catch (const c10::DistQueueEmptyError&) {
                  return std::nullopt;  // non-blocking pop of an empty queue
                }
              });
}

int64_t TorchStore::queue_len(std::string_view key) {
  return call("queue_len", ErrorCode::SystemError,
              [&] { return store_->queueLen(std::string(key)); });
}

}  // namespace weft::c10d_ext
