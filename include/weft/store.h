// The rendezvous key-value store: the abstract interface every layer uses,
// plus the three implementations.
//
//   TcpStore   — client of a weft-store / torch TCPStore server (wire-compatible
//                with torch.distributed.TCPStore, torch >= 2.4).
//   PrefixStore— namespaces every key of another store ("<prefix>/<key>").
//   HashStore  — in-process, for tests and single-process use.
//
// Blocking calls (get, wait, queue_pop) wait at most timeout() and then throw
// Timeout naming the keys still missing.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

using Bytes = std::vector<uint8_t>;

inline Bytes to_bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }
inline std::string to_string(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

class Store {
 public:
  virtual ~Store() = default;

  virtual void set(std::string_view key, std::span<const uint8_t> value) = 0;
  // Waits up to timeout() for the key to exist.
  virtual Bytes get(std::string_view key) = 0;
  // Atomically adds `delta` to the decimal-ASCII counter at `key` (missing = 0)
  // and returns the new value.
  virtual int64_t add(std::string_view key, int64_t delta) = 0;
  // Sets `key` to `desired` if its current value equals `expected` (or if it is
  // missing and `expected` is empty); returns the value after the operation.
  virtual Bytes compare_set(std::string_view key, std::span<const uint8_t> expected,
                            std::span<const uint8_t> desired) = 0;
  // True when every key exists (does not wait).
  virtual bool check(std::span<const std::string> keys) = 0;
  // Waits until every key exists; throws Timeout naming the missing ones.
  virtual void wait(std::span<const std::string> keys, std::chrono::milliseconds timeout) = 0;
  // Returns true if the key existed.
  virtual bool delete_key(std::string_view key) = 0;
  virtual int64_t num_keys() = 0;
  virtual std::vector<Bytes> multi_get(std::span<const std::string> keys) = 0;
  virtual void multi_set(std::span<const std::string> keys, std::span<const Bytes> values) = 0;
  // Appends to the value (creates it when missing).
  virtual void append(std::string_view key, std::span<const uint8_t> value) = 0;
  // FIFO queues (torch's queue_push / queue_pop / queue_len).
  virtual void queue_push(std::string_view key, std::span<const uint8_t> value) = 0;
  // Pops the oldest entry; blocks up to timeout() when `block`, else returns nullopt if empty.
  virtual std::optional<Bytes> queue_pop(std::string_view key, bool block) = 0;
  virtual int64_t queue_len(std::string_view key) = 0;

  // Conveniences built on the primitives above.
  void set(std::string_view key, std::string_view value) {
    const Bytes bytes = to_bytes(value);
    set(key, std::span<const uint8_t>(bytes));
  }
  std::string get_string(std::string_view key) { return to_string(get(key)); }
  void wait(std::span<const std::string> keys) { wait(keys, timeout()); }

  std::chrono::milliseconds timeout() const { return timeout_; }
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

 protected:
  std::chrono::milliseconds timeout_{std::chrono::seconds(300)};
};

// ---------------------------------------------------------------------------
struct TcpStoreOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 29500;
  // Default for blocking operations (get/wait/queue_pop); WEFT_STORE_TIMEOUT_S when unset.
  std::optional<std::chrono::milliseconds> timeout;
  // How long connect() keeps retrying (jittered exponential backoff);
  // WEFT_STORE_CONNECT_TIMEOUT_S when unset.
  std::optional<std::chrono::milliseconds> connect_timeout;
  // Shared secret; WEFT_STORE_TOKEN when unset. Empty = no authentication.
  std::optional<std::string> token;
};

class TcpStore : public Store {
 public:
  // Connects (retrying until connect_timeout) and validates the protocol.
  static std::unique_ptr<TcpStore> connect(const TcpStoreOptions& options);
  ~TcpStore() override;
  // Defined in the implementation; TcpStore is used through the Store interface.
  class Impl;

 protected:
  TcpStore() = default;
};

class PrefixStore : public Store {
 public:
  PrefixStore(std::string prefix, std::shared_ptr<Store> base);
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
  using Store::set;
  using Store::wait;

  const std::string& prefix() const { return prefix_; }
  Store& base() { return *base_; }

 private:
  std::string full(std::string_view key) const;
  std::vector<std::string> full(std::span<const std::string> keys) const;
  std::string prefix_;
  std::shared_ptr<Store> base_;
};

class HashStore : public Store {
 public:
  HashStore();
  ~HashStore() override;
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
  using Store::set;
  using Store::wait;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---------------------------------------------------------------------------
// The store server: one epoll event-loop thread. Embedded in a process
// (rank 0, the launcher) or run standalone by `weft-store serve`.
struct StoreServerOptions {
  std::string host = "0.0.0.0";  // address to bind; "::" for IPv6 any
  uint16_t port = 29500;         // 0 picks a free port (see StoreServer::port())
  std::optional<std::string> token;           // WEFT_STORE_TOKEN when unset
  std::optional<size_t> max_value_bytes;      // WEFT_STORE_MAX_VALUE_BYTES when unset
  size_t max_key_bytes = 8192;
  int backlog = 4096;
};

class StoreServer {
 public:
  // Binds, listens and starts the event-loop thread; throws SystemError when
  // the address is in use.
  static std::unique_ptr<StoreServer> start(const StoreServerOptions& options);
  ~StoreServer();  // stops the loop, closes every client
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;

  uint16_t port() const;
  void stop();
  // Number of connected clients, keys and blocked WAITs (for tests and the
  // operator CLI; refreshed by the loop after each batch of events).
  size_t num_clients() const;
  size_t num_keys() const;
  size_t num_waiters() const;

  class Impl;

 private:
  explicit StoreServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft
