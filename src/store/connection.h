// One client connection of the store server: its socket, where it is in the
// handshake, and the bytes received but not yet parsed / produced but not
// yet sent. Frames are parsed incrementally: a frame may arrive one byte at a
// time and replies may drain one byte at a time (EAGAIN), both are buffered
// here.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "net/socket.h"
#include "store/output_queue.h"
#include "store/protocol.h"

namespace weft::store {

class Connection {
 public:
  enum class Phase {
    Hello,      // expects AUTH (weft) or VALIDATE (torch)
    Validate,   // authenticated; expects VALIDATE
    Ready,      // serves queries
  };

  Connection(uint64_t id, net::Socket socket) : id_(id), socket_(std::move(socket)) {}

  uint64_t id() const { return id_; }
  net::Socket& socket() { return socket_; }
  const std::string& peer() const { return socket_.peer(); }
  Phase phase = Phase::Hello;
  // Close once the pending output is flushed (after refusing a token).
  bool close_after_flush = false;
  // Parsing pays off again only when this many bytes are buffered.
  size_t need = 1;

  // --- input ---
  void append_input(std::span<const uint8_t> data) { in_.insert(in_.end(), data.begin(), data.end()); }
  std::span<const uint8_t> unparsed() const {
    return std::span<const uint8_t>(in_).subspan(in_start_);
  }
  void consume(size_t n) { in_start_ += n; }
  // Room for `frame_bytes` of unparsed input.
  void reserve_input(size_t frame_bytes) { in_.reserve(in_start_ + frame_bytes); }
  // Drops parsed bytes from the front (called once per read burst).
  void compact_input() {
    if (in_start_ == 0) return;
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_start_));
    in_start_ = 0;
  }

  // --- output ---
  OutputQueue& output() { return out_; }
  size_t pending_output() const { return out_.pending(); }

  // Whether epoll is currently asked for EPOLLOUT / EPOLLIN on this socket.
  uint32_t interest = 0;

 private:
  uint64_t id_;
  net::Socket socket_;
  Bytes in_;
  size_t in_start_ = 0;
  OutputQueue out_;
};

}  // namespace weft::store
