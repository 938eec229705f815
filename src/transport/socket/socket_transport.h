// The TCP transport: ranks in different processes or on different hosts.
//
// Each rank listens on one address of the chosen interface. A rank that
// first sends to a peer opens WEFT_NSOCKS streams to it (lazily: only the
// peers an algorithm talks to get connections; the communicator connects the
// ring neighbours at init). Streams carry data one way, connector to
// acceptor, so connecting never races. Messages of at least kSplitBytes are
// cut into one fragment per stream so that several TCP flows share the work;
// smaller ones go whole on stream 0 (lowest latency).
//
// One progress thread per transport runs an epoll loop: it accepts, reads
// every stream into the matcher (payload straight into the posted receive
// buffer when there is one), and finishes sends the socket could not take at
// once (posting threads write directly first).
//
// A peer whose stream hits EOF or an error without an orderly Close is lost:
// after a short grace period — during which a peer's Abort that explains the
// failure may still arrive and wins — the transport fails with PeerLost
// naming it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "transport/socket/stream.h"
#include "net/poller.h"
#include "net/socket.h"
#include "transport/transport.h"

namespace weft::transport {

// Where a peer listens.
struct PeerAddress {
  std::string host;  // numeric
  uint16_t port = 0;
};

struct SocketOptions {
  int nsocks = 2;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds lost_grace{std::chrono::milliseconds(200)};
  static constexpr size_t kSplitBytes = 64 * 1024;
};

class SocketTransport : public Transport {
 public:
  // `listener` was bound (and published) before the peers' addresses were
  // known; `peers[r]` is where rank r listens (peers[rank] unused).
  SocketTransport(int rank, int size, HeaderFormatter formatter, uint64_t comm_id,
                  net::Listener listener, std::vector<PeerAddress> peers, SocketOptions options);
  ~SocketTransport() override;
  const char* name() const override { return "socket"; }

  void connect(int peer) override;

 protected:
  void start_send(const RequestPtr& request, const OpHeader* header) override;
  void broadcast_failure(ErrorCode code, const std::string& message) override;
  void fail_sends(std::exception_ptr error) override;

 private:
  struct Peer {
    std::mutex connect_mutex;
    std::atomic<bool> connected{false};
    std::vector<std::unique_ptr<Stream>> out;  // fixed once connected
    std::vector<std::unique_ptr<Stream>> in;   // filled by the progress thread
    std::atomic<bool> closed{false};           // it sent Close
    size_t next_stream = 0;
  };

  void progress_loop();
  void accept_all();
  void on_readable(Stream& s);
  bool read_some(Stream& s);  // false when the stream ended
  void on_frame(Stream& s);
  void on_hello(Stream& s);
  void on_writable(Stream& s);
  void post(Stream& s, SendItem item);
  void arm(Stream& s, bool want_out);  // under s.send_mutex
  // Queues an Abort on `s` unless it is mid-frame; false when it could not.
  bool send_abort(Stream& s, ErrorCode code, const std::string& message);
  void stream_lost(Stream& s, const std::string& why);
  // Starts the grace period after which `peer` is declared lost (unless a
  // peer's Abort explains the failure first).
  void suspect(int peer, const std::string& message);
  void check_lost();
  void wake();
  std::vector<Stream*> streams_of(int peer);

  const uint64_t comm_id_;
  const SocketOptions options_;
  net::Listener listener_;
  std::vector<PeerAddress> addresses_;
  std::vector<std::unique_ptr<Peer>> peers_;
  net::Poller poller_;
  net::Waker waker_;

  std::mutex mutex_;  // accepted_, the peers' `in` vectors, lost_*
  std::vector<std::unique_ptr<Stream>> accepted_;  // waiting for their Hello
  std::vector<RequestPtr> orphans_;  // sends to a peer we could not reach, failed with the transport
  int lost_peer_ = -1;
  std::string lost_why_;
  std::chrono::steady_clock::time_point lost_deadline_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> closing_{false};  // destructor running: peers' news no longer matters
  std::thread progress_;
};

}  // namespace weft::transport
