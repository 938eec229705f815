// One TCP connection of the socket transport: its send queue (written by
// whichever thread posts, continued by the progress thread when the socket
// is full) and its receive state machine (progress thread only).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "transport/matcher.h"
#include "transport/request.h"
#include "net/socket.h"
#include "transport/socket/wire.h"

namespace weft::transport {

// The fragments of one send request still to be written.
struct SendGroup {
  RequestPtr request;
  std::atomic<int> remaining{0};
};

struct SendItem {
  uint8_t head[wire::kMaxHead];
  size_t head_len = 0;
  const char* payload = nullptr;
  size_t payload_len = 0;
  size_t written = 0;                 // of head_len + payload_len
  std::shared_ptr<SendGroup> group;   // null for control frames
  std::string control;                // a control frame's payload (payload points here)
  size_t total() const { return head_len + payload_len; }
};

class Stream {
 public:
  enum class Direction : uint8_t { out, in };  // out: we connected and send data
  Stream(net::Socket socket, int peer, Direction direction)
      : socket(std::move(socket)), peer(peer), direction(direction) {}
  int fd() const { return socket.fd(); }

  net::Socket socket;
  int peer;  // -1 until an accepted stream's Hello arrived
  Direction direction;
  bool dead = false;  // removed from epoll (EOF, error, failure)

  // --- send side (guarded by send_mutex) ---------------------------------------
  std::mutex send_mutex;
  std::deque<SendItem> queue;
  bool want_out = false;  // EPOLLOUT armed
  bool poisoned = false;  // stopped in the middle of a frame: never write again

  enum class Flush { empty, blocked, error };
  // Writes as much of the queue as the socket takes; completed groups are
  // appended to `finished` (to complete outside the lock). Caller holds send_mutex.
  Flush flush(std::vector<RequestPtr>& finished, int* err);

  // --- receive side (progress thread) ---------------------------------------------
  enum class Phase : uint8_t { hello, head, payload, control, discard };
  Phase phase = Phase::head;
  uint8_t head[wire::kMaxHead];
  size_t head_got = 0;
  wire::FrameHeader frame;
  SlotPtr slot;
  char* dest = nullptr;
  size_t remaining = 0;
  std::string control;
  wire::Hello hello;
};

}  // namespace weft::transport
