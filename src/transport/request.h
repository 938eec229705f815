// A posted send or receive: its buffer, where it stands, and how it ended.
//
// Transports complete requests from their progress thread; algorithms wait on
// them from the communicator's worker thread. A request completes exactly
// once. `on_done`, when set before posting, runs on the completing thread
// (point-to-point Works use it); it must not block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>

namespace weft::transport {

class Request {
 public:
  enum class Kind : uint8_t { send, recv };
  Request(Kind kind, int peer, uint64_t tag, void* data, size_t bytes)
      : kind(kind), peer(peer), tag(tag), data(data), bytes(bytes) {}

  const Kind kind;
  const int peer;
  const uint64_t tag;
  void* const data;  // send: read-only payload; recv: destination
  const size_t bytes;
  std::function<void(std::exception_ptr)> on_done;

  // First call wins.
  void complete() { finish(nullptr); }
  void fail(std::exception_ptr error) { finish(std::move(error)); }

  // Waits until done or `deadline`: false on deadline; rethrows a failure.
  bool wait_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_until(lock, deadline, [&] { return done_; })) return false;
    if (error_) std::rethrow_exception(error_);
    return true;
  }
  bool done() const {
    std::lock_guard lock(mutex_);
    return done_;
  }
  std::exception_ptr error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void finish(std::exception_ptr error) {
    std::function<void(std::exception_ptr)> callback;
    {
      std::lock_guard lock(mutex_);
      if (done_) return;
      done_ = true;
      error_ = error;
      callback = std::move(on_done);
    }
    cv_.notify_all();
    if (callback) callback(error);
  }

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

using RequestPtr = std::shared_ptr<Request>;

}  // namespace weft::transport
