// Matching of incoming messages with posted receives, shared by every
// transport.
//
// A message is identified by (source rank, 64-bit tag); tags are unique among
// the messages in flight (collectives put their sequence number in the tag,
// point-to-point adds a per-(peer, tag) counter), so matching is a lookup,
// and fragments of one message may arrive in any order over several streams.
// A message that arrives before its receive is posted lands in a buffer of
// its own (an "unexpected" message) and is copied when the receive comes.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "transport/op_header.h"
#include "transport/request.h"

namespace weft::transport {

// One message being received (or received and waiting for its receive).
struct Slot {
  int peer = -1;
  uint64_t tag = 0;
  size_t total = 0;        // message length, known once a fragment arrived
  size_t received = 0;     // bytes landed so far
  bool arrived = false;    // a fragment header was seen
  RequestPtr request;      // the posted receive, if any
  std::vector<uint8_t> own;  // storage of an unexpected message
  std::optional<OpHeader> header;  // the sender's op header, if it sent one
  std::optional<OpHeader> expect;  // the receiver's op header, if it gave one
  char* dest() { return own.empty() && request ? static_cast<char*>(request->data)
                                               : reinterpret_cast<char*>(own.data()); }
};
using SlotPtr = std::shared_ptr<Slot>;

class Matcher {
 public:
  Matcher(int rank, int size, HeaderFormatter formatter);

  // Receiver side, called by the transport (any thread; internally locked).
  // A fragment header of message (peer, tag, total) arrived; returns the slot
  // whose dest() + offset receives its bytes. Throws Mismatch when the
  // message contradicts the posted receive (length or op header).
  SlotPtr on_fragment(int peer, uint64_t tag, size_t total, const OpHeader* header);
  // `bytes` more bytes of the slot landed; completes the receive when whole.
  void on_bytes(const SlotPtr& slot, size_t bytes);

  // Posts a receive; completes it at once when the message already arrived.
  // Throws Mismatch like on_fragment.
  void post(const RequestPtr& request, const OpHeader* expect);

  // True when a receive from `peer` is posted and not complete.
  bool has_pending(int peer);

  // Fails every posted receive and rejects every later one.
  void fail_all(std::exception_ptr error);

 private:
  void check(const Slot& slot, int peer) const;  // under mutex_
  void finish(Slot& slot);                      // under mutex_, slot complete + matched

  int rank_;
  HeaderFormatter formatter_;
  std::mutex mutex_;
  std::vector<std::unordered_map<uint64_t, SlotPtr>> slots_;  // per peer, by tag
  std::exception_ptr failed_;
};

}  // namespace weft::transport
