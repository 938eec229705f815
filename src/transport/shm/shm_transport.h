// The transport of a communicator whose ranks share hosts: peers on this
// host are reached through shared-memory rings (transport/shm/links.h), the
// others through the inherited socket transport. Algorithms and
// point-to-point see one Transport; the matcher, the failure stickiness and
// the relaying of failures are the same for both kinds of peers.
//
// Sending: the posting thread copies the record (a 48-byte header with the
// tag, the length and the op header, then the payload) into the peer's ring
// as far as it fits, in chunks of at most kChunk bytes each published with
// head; what does not fit is continued by the progress thread as the
// receiver frees space. A message larger than the ring simply streams
// through it (two copies, pipelined: the sender fills one part while the
// receiver empties another). Cross-memory attach (process_vm_readv) would
// save one copy; the shared-memory collectives use it where their init
// probe shows it works (coll/shm/single_copy.cc), point-to-point does not
// yet: it would need the receiver to tell the sender when it has read.
//
// Receiving: one progress thread per rank parses every inbound ring like a
// TCP stream and copies payloads straight into the posted receive buffer
// (or into an unexpected-message buffer, as the socket transport does), so
// the rings always drain and no order of posts can deadlock.
//
// Failures: a failing rank writes its notice (code + message) once into the
// segment and rings every local peer, which relays it (over its own notice
// and its sockets). A peer whose process exits without an orderly close is
// seen through its pidfd within kLivenessPeriod: PeerLost naming it. A peer
// that closed in an orderly way while this rank still waits for data from it
// (its ring drained) is PeerLost too, as with sockets.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "transport/shm/links.h"
#include "transport/socket/socket_transport.h"

namespace weft::transport {

class ShmTransport : public SocketTransport {
 public:
  static constexpr size_t kChunk = 64 * 1024;
  static constexpr auto kLivenessPeriod = std::chrono::milliseconds(20);

  ShmTransport(int rank, int size, HeaderFormatter formatter, uint64_t comm_id,
               net::Listener listener, std::vector<PeerAddress> peers, SocketOptions options,
               std::unique_ptr<shm_p2p::Links> links);
  ~ShmTransport() override;
  const char* name() const override { return "shm+socket"; }

  void connect(int peer) override;
  // Whether `peer` is reached through shared memory.
  bool is_local(int peer) const { return local_of_[static_cast<size_t>(peer)] >= 0; }
  // Messages this rank sent through shared memory so far (for tests and logs).
  uint64_t shm_messages_sent() const { return sent_.load(std::memory_order_relaxed); }

 protected:
  void start_send(const RequestPtr& request, const OpHeader* header) override;
  void broadcast_failure(ErrorCode code, const std::string& message) override;
  void fail_sends(std::exception_ptr error) override;

 private:
  struct Record;
  struct Item {
    RequestPtr request;
    uint8_t record[48];
    uint64_t written = 0;  // of sizeof record + payload
  };
  struct Outbound {
    int local = -1;
    shm_p2p::Ring ring;
    std::mutex mutex;
    std::deque<Item> queue;
    bool poisoned = false;  // stopped mid-record: never written again
    std::atomic<bool> pending{false};
  };
  struct Inbound {
    int local = -1;
    int peer = -1;  // communicator rank
    shm_p2p::Ring ring;
    uint64_t pos = 0;  // next byte to read
    enum class Phase : uint8_t { record, payload, discard } phase = Phase::record;
    uint8_t record[48];
    size_t record_got = 0;
    SlotPtr slot;
    uint64_t total = 0;
    char* dest = nullptr;
    uint64_t remaining = 0;
  };

  void progress_loop();
  bool poll_once();
  bool read_notices();
  bool drain(Inbound& in);
  void on_record(Inbound& in);
  // Writes what fits of `o`'s queue; completed sends go to `finished`.
  bool pump(Outbound& o, std::vector<RequestPtr>& finished);
  bool pump_and_complete(Outbound& o);
  void drop(Outbound& o, std::exception_ptr error);
  void check_peers();

  std::unique_ptr<shm_p2p::Links> links_;
  std::vector<int> local_of_;  // communicator rank -> local index or -1
  std::vector<std::unique_ptr<Outbound>> out_;  // by local index (null for self)
  std::vector<std::unique_ptr<Inbound>> in_;    // by local index (null for self)
  std::vector<bool> notice_seen_;
  std::chrono::microseconds spin_for_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> closing_{false};
  std::thread progress_;
};

}  // namespace weft::transport
