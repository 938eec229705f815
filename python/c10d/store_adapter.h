// weft::Store on top of any torch c10d::Store (TCPStore, FileStore,
// PrefixStore, HashStore, a Python store): weft's rendezvous runs through
// the very store torch handed the backend, so no second server or client
// is needed. torch's errors come back as weft::Errors (a store wait that
// runs out is Timeout naming the keys).
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "weft/store.h"

namespace weft::c10d_ext {

class TorchStore : public weft::Store {
 public:
  explicit TorchStore(c10::intrusive_ptr<::c10d::Store> store);

  void set(std::string_view key, std::span<const uint8_t> value) override;
  Bytes get(std::string_view key) override;
  int64_t add(std::string_view key, int64_t delta) override;
  Bytes compare_set(std::string_view key, std::span<const uint8_t> expected,
                    std::span<const uint8_t> desired) override;
  bool check(std::span<const std::string> keys) override;
  void wait(std::span<const std::string> keys, std::chrono::milliseconds timeout) override;
  bool delete_key(std::string_view key) override;
  int64_t num_keys() override;
  std::vector<Bytes> multi_get(std::span<const std::string> keys) override;
  void multi_set(std::span<const std::string> keys, std::span<const Bytes> values) override;
  void append(std::string_view key, std::span<const uint8_t> value) override;
  void queue_push(std::string_view key, std::span<const uint8_t> value) override;
  std::optional<Bytes> queue_pop(std::string_view key, bool block) override;
  int64_t queue_len(std::string_view key) override;
  using weft::Store::set;
  using weft::Store::wait;

 private:
  c10::intrusive_ptr<::c10d::Store> store_;
};

}  // namespace weft::c10d_ext
