// The interface every collective algorithm is written against.
//
// A transport moves tagged byte messages between the ranks of one
// communicator: isend/irecv post requests that complete asynchronously, in
// any order, on the transport's own threads. Algorithms never learn which
// transport drives them (sockets between hosts, shared-memory rings between
// the processes of one host — transport/shm —, threads of one process in
// tests).
//
// Failure is sticky and shared: the first failure (a peer lost, a mismatch,
// a timeout or abort decided above) fails every pending request and every
// later one with the same error, and is sent to every connected peer so that
// ranks which were not talking to the culprit learn about it too.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>

#include "transport/matcher.h"
#include "transport/op_header.h"
#include "transport/request.h"
#include "weft/error.h"

namespace weft::transport {

class Transport {
 public:
  Transport(int rank, int size, HeaderFormatter formatter);
  virtual ~Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  virtual const char* name() const = 0;

  // `header` (optional) travels with the message; the receiver compares it
  // with the header its receive expects. Buffers stay valid until completion.
  // `on_done` (optional) runs on the completing thread; it must not block.
  using Callback = std::function<void(std::exception_ptr)>;
  RequestPtr isend(int peer, uint64_t tag, const void* data, size_t bytes,
                   const OpHeader* header, Callback on_done = {});
  RequestPtr irecv(int peer, uint64_t tag, void* data, size_t bytes, const OpHeader* expect,
                   Callback on_done = {});

  // Makes sure the connection to `peer` exists (transports that connect lazily).
  virtual void connect(int peer) { (void)peer; }

  // First failure wins. `notify` tells the connected peers (false when the
  // failure came from a peer's notification, which peers relay themselves).
  void fail(ErrorCode code, const std::string& message, bool notify = true);
  // The sticky failure, or nullptr.
  std::exception_ptr failure() const;
  // Called once, on the failing thread, when the transport fails.
  void set_on_failure(std::function<void(const Error&)> callback);

  // What the owner is doing now ("allreduce #5 (4 KiB f32 sum)"), quoted in
  // the failures the transport detects itself.
  void set_context(std::function<std::string()> context);
  std::string context() const;

  // A peer's notification arrived: relay it (once) and fail with its cause.
  void on_peer_failure(int peer, ErrorCode code, const std::string& message);

 protected:
  virtual void start_send(const RequestPtr& request, const OpHeader* header) = 0;
  // Best effort: tell every connected peer (and fail queued sends).
  virtual void broadcast_failure(ErrorCode code, const std::string& message) = 0;
  virtual void fail_sends(std::exception_ptr error) = 0;

  Matcher& matcher() { return matcher_; }

  // Receives land in their owners' buffers on the transport's own threads.
  // Once the transport failed, its receives have failed and their owners
  // may free those buffers (an error unwinding a stack does): no byte may
  // land there after. `copy` runs under a guard unless the transport failed
  // (then it does not run, and the caller discards those bytes); fail()
  // takes the guard once before it fails the receives, so no receive fails
  // while a copy into its buffer is in flight.
  template <typename Copy>
  bool land(Copy&& copy) {
    std::lock_guard lock(landing_);
    if (failed_.load(std::memory_order_relaxed)) return false;
    copy();
    return true;
  }

 private:
  int rank_;
  int size_;
  Matcher matcher_;
  mutable std::mutex mutex_;
  std::exception_ptr failure_;
  // Set (release) once failure_ is: failure() runs before every operation
  // and message, and reads only this while nothing failed (no lock).
  std::atomic<bool> failed_{false};
  std::mutex landing_;  // held by land() during a copy into a receive's buffer
  std::function<void(const Error&)> on_failure_;
  std::function<std::string()> context_;
};

}  // namespace weft::transport
