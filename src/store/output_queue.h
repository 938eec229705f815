// OutputQueue: replies produced but not yet taken by the socket.
//
// Kept as a queue of chunks rather than one growing buffer, so that a reader
// slower than its requests (a client pipelining GETs of large values) costs
// no memmove of what is still pending: sent chunks are dropped whole, a
// partially sent one is tracked by an offset. Small replies are coalesced
// into the last chunk so a burst of tiny answers is still few write() calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace weft::store {

class OutputQueue {
 public:
  using Bytes = std::vector<uint8_t>;

  void push(Bytes&& reply) {
    if (reply.empty()) return;
    pending_ += reply.size();
    if (!chunks_.empty() && reply.size() <= kCoalesceBytes &&
        chunks_.back().size() + reply.size() <= kChunkBytes) {
      chunks_.back().insert(chunks_.back().end(), reply.begin(), reply.end());
    } else {
      chunks_.push_back(std::move(reply));
    }
  }
  void push_byte(uint8_t byte) { push(Bytes{byte}); }

  size_t pending() const { return pending_; }
  bool empty() const { return pending_ == 0; }
  // The next bytes to send (part of one chunk).
  std::span<const uint8_t> front() const {
    return std::span<const uint8_t>(chunks_.front()).subspan(offset_);
  }
  // `n` bytes of front() were sent.
  void consume(size_t n) {
    pending_ -= n;
    offset_ += n;
    if (offset_ == chunks_.front().size()) {
      chunks_.pop_front();
      offset_ = 0;
    }
  }

 private:
  static constexpr size_t kCoalesceBytes = 4096;
  static constexpr size_t kChunkBytes = 64 * 1024;
  std::deque<Bytes> chunks_;
  size_t offset_ = 0;  // sent bytes of chunks_.front()
  size_t pending_ = 0;
};

}  // namespace weft::store
