#include "transport/transport.h"

namespace weft::transport {

Transport::Transport(int rank, int size, HeaderFormatter formatter)
    : rank_(rank), size_(size), matcher_(rank, size, std::move(formatter)) {}

RequestPtr Transport::isend(int peer, uint64_t tag, const void* data, size_t bytes,
                            const OpHeader* header, Callback on_done) {
  WEFT_ASSERT(peer >= 0 && peer < size_);
  auto request = std::make_shared<Request>(Request::Kind::send, peer, tag,
                                           const_cast<void*>(data), bytes);
  request->on_done = std::move(on_done);
  if (auto failed = failure()) {
    request->fail(failed);
    return request;
  }
  start_send(request, header);
  return request;
}

RequestPtr Transport::irecv(int peer, uint64_t tag, void* data, size_t bytes,
                            const OpHeader* expect, Callback on_done) {
  WEFT_ASSERT(peer >= 0 && peer < size_);
  auto request = std::make_shared<Request>(Request::Kind::recv, peer, tag, data, bytes);
  request->on_done = std::move(on_done);
  try {
    matcher_.post(request, expect);
  } catch (const Error& e) {
    fail(e.code(), str("rank ", rank_, ": ", e.message()));
    request->fail(std::current_exception());
  }
  return request;
}

void Transport::fail(ErrorCode code, const std::string& message, bool notify) {
  std::function<void(const Error&)> callback;
  std::exception_ptr error;
  {
    std::lock_guard lock(mutex_);
    if (failure_) return;
    failure_ = std::make_exception_ptr(Error(code, message));
    failed_.store(true, std::memory_order_release);
    error = failure_;
    callback = on_failure_;
  }
  { std::lock_guard wait_for_copy_in_flight(landing_); }
  if (notify) broadcast_failure(code, message);
  matcher_.fail_all(error);
  fail_sends(error);
  if (callback) callback(Error(code, message));
}

void Transport::on_peer_failure(int peer, ErrorCode code, const std::string& message) {
  (void)peer;
  // Relayed as is: the message already names the rank that saw the failure
  // first, and relaying it on makes it reach ranks with no connection to it.
  fail(code, message, /*notify=*/true);
}

std::exception_ptr Transport::failure() const {
  if (!failed_.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard lock(mutex_);
  return failure_;
}

void Transport::set_on_failure(std::function<void(const Error&)> callback) {
  std::lock_guard lock(mutex_);
  on_failure_ = std::move(callback);
}

void Transport::set_context(std::function<std::string()> context) {
  std::lock_guard lock(mutex_);
  context_ = std::move(context);
}

std::string Transport::context() const {
  std::function<std::string()> context;
  {
    std::lock_guard lock(mutex_);
    context = context_;
  }
  return context ? context() : std::string("no operation");
}

}  // namespace weft::transport
