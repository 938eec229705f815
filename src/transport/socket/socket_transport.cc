#include "transport/socket/socket_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "weft/log.h"

namespace weft::transport {

using Clock = std::chrono::steady_clock;

namespace {

// Poller tokens: streams use their address, which is never 1 or 2.
constexpr uint64_t kListenerToken = 1;
constexpr uint64_t kWakerToken = 2;
uint64_t token_of(Stream* s) { return reinterpret_cast<uintptr_t>(s); }

// Every stream: non-blocking, NODELAY (frames are latency-bound), keepalive
// and a user timeout so that a vanished host is noticed even while idle.
void configure(net::Socket& socket) {
  socket.set_nonblocking(true);
  socket.set_nodelay(true);
  socket.set_keepalive(true, 10, 2, 3);
  unsigned user_timeout_ms = 30000;
  ::setsockopt(socket.fd(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
               sizeof user_timeout_ms);
}

}  // namespace

SocketTransport::SocketTransport(int rank, int size, HeaderFormatter formatter, uint64_t comm_id,
                                 net::Listener listener, std::vector<PeerAddress> peers,
                                 SocketOptions options)
    : Transport(rank, size, std::move(formatter)),
      comm_id_(comm_id),
      options_(options),
      listener_(std::move(listener)),
      addresses_(std::move(peers)) {
  for (int r = 0; r < size; ++r) peers_.push_back(std::make_unique<Peer>());
  poller_.add(listener_.fd(), EPOLLIN, kListenerToken);
  poller_.add(waker_.fd(), EPOLLIN, kWakerToken);
  progress_ = std::thread([this] { progress_loop(); });
}

SocketTransport::~SocketTransport() {
  closing_ = true;
  // An orderly goodbye on every stream that is between frames, so that peers
  // do not take our exit for a crash.
  if (!failure()) {
    wire::FrameHeader close;
    close.kind = wire::Kind::kClose;
    for (int p = 0; p < size(); ++p) {
      if (p == rank()) continue;
      for (Stream* s : streams_of(p)) {
        std::lock_guard lock(s->send_mutex);
        if (!s->dead && !s->poisoned && s->queue.empty()) {
          try {
            s->socket.send_all({reinterpret_cast<const uint8_t*>(&close), sizeof close},
                               net::Deadline::after(std::chrono::milliseconds(200)), "close");
          } catch (const Error&) {
            // The peer is gone already; nothing to tell it.
          }
        }
      }
    }
  }
  stop_ = true;
  wake();
  progress_.join();
}

void SocketTransport::wake() { waker_.wake(); }

std::vector<Stream*> SocketTransport::streams_of(int peer) {
  std::vector<Stream*> out;
  Peer& p = *peers_[peer];
  if (p.connected.load(std::memory_order_acquire))
    for (auto& s : p.out) out.push_back(s.get());
  std::lock_guard lock(mutex_);
  for (auto& s : p.in)
    if (s) out.push_back(s.get());
  return out;
}

// --- connecting -----------------------------------------------------------------
void SocketTransport::connect(int peer) {
  Peer& p = *peers_[peer];
  if (p.connected.load(std::memory_order_acquire)) return;
  std::lock_guard lock(p.connect_mutex);
  if (p.connected.load(std::memory_order_relaxed)) return;
  const auto t0 = Clock::now();
  std::vector<std::unique_ptr<Stream>> streams;
  const PeerAddress& where = addresses_[peer];
  const std::string endpoint = net::format_endpoint(where.host, where.port);
  for (int i = 0; i < options_.nsocks; ++i) {
    net::Socket socket;
    try {
      socket = net::connect_tcp(where.host, where.port, net::Deadline::after(options_.connect_timeout));
      configure(socket);
      wire::Hello hello;
      hello.comm_id = comm_id_;
      hello.rank = rank();
      hello.index = i;
      hello.nsocks = options_.nsocks;
      socket.send_all({reinterpret_cast<const uint8_t*>(&hello), sizeof hello},
                      net::Deadline::after(options_.connect_timeout), "handshake");
    } catch (const Error& e) {
      // Refused or reset: the peer's process is gone (its listener with it).
      ErrorCode code = e.code() == ErrorCode::Timeout ? ErrorCode::Timeout : ErrorCode::PeerLost;
      throw_error(code, str("rank ", rank(), ": cannot connect to peer rank ", peer, " at ",
                            endpoint, ": ", e.message()));
    }
    streams.push_back(std::make_unique<Stream>(std::move(socket), peer, Stream::Direction::out));
  }
  for (auto& s : streams) poller_.add(s->fd(), EPOLLIN | EPOLLRDHUP, token_of(s.get()));
  p.out = std::move(streams);
  p.connected.store(true, std::memory_order_release);
  WEFT_INFO("transport", "rank ", rank(), " -> peer rank ", peer, ": socket, ", options_.nsocks,
            " stream(s) to ", endpoint, " in ",
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), " ms");
}

// --- sending ----------------------------------------------------------------------
void SocketTransport::start_send(const RequestPtr& request, const OpHeader* header) {
  const int peer = request->peer;
  Peer& p = *peers_[peer];
  if (p.closed) {
    fail(ErrorCode::PeerLost, str("rank ", rank(), ": peer rank ", peer,
                                  " destroyed its communicator; cannot send to it during ",
                                  context()));
    request->fail(failure());
    return;
  }
  try {
    connect(peer);
  } catch (const Error& e) {
    // Refused: the peer is gone. Others may know why (it failed and told
    // them), so wait out the grace period for their Abort before blaming it.
    {
      std::lock_guard lock(mutex_);
      orphans_.push_back(request);
    }
    if (e.code() == ErrorCode::PeerLost)
      suspect(peer, str(e.message(), " during ", context()));
    else
      fail(e.code(), str(e.message(), " during ", context()));
    if (auto f = failure()) request->fail(f);
    return;
  }
  const size_t bytes = request->bytes;
  const int nfrag = bytes >= SocketOptions::kSplitBytes ? static_cast<int>(p.out.size()) : 1;
  auto group = std::make_shared<SendGroup>();
  group->request = request;
  group->remaining = nfrag;
  for (int f = 0; f < nfrag; ++f) {
    const size_t lo = bytes * static_cast<size_t>(f) / static_cast<size_t>(nfrag);
    const size_t hi = bytes * static_cast<size_t>(f + 1) / static_cast<size_t>(nfrag);
    SendItem item;
    wire::FrameHeader frame;
    frame.kind = wire::Kind::kData;
    frame.flags = header ? wire::kHasOpHeader : 0;
    frame.tag = request->tag;
    frame.total = bytes;
    frame.offset = lo;
    frame.length = hi - lo;
    std::memcpy(item.head, &frame, sizeof frame);
    item.head_len = sizeof frame;
    if (header) {
      std::memcpy(item.head + sizeof frame, header->bytes, OpHeader::kSize);
      item.head_len += OpHeader::kSize;
    }
    item.payload = static_cast<const char*>(request->data) + lo;
    item.payload_len = hi - lo;
    item.group = group;
    post(*p.out[static_cast<size_t>(f)], std::move(item));
  }
}

void SocketTransport::arm(Stream& s, bool want_out) {
  if (s.want_out == want_out || s.dead) return;
  s.want_out = want_out;
  poller_.modify(s.fd(), EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0u), token_of(&s));
}

void SocketTransport::post(Stream& s, SendItem item) {
  std::vector<RequestPtr> finished;
  Stream::Flush result = Stream::Flush::empty;
  int err = 0;
  {
    std::lock_guard lock(s.send_mutex);
    // A failure after isend() looked: fail_sends() has emptied this queue
    // already (or takes this lock next), and nothing would fail the item.
    const auto failed = failure();
    if (s.dead || s.poisoned || (failed && item.group)) {
      if (item.group) {
        item.group->request->fail(
            failed ? failed
                   : std::make_exception_ptr(Error(ErrorCode::PeerLost,
                                                   str("rank ", rank(), ": connection to peer rank ",
                                                       s.peer, " is gone"))));
      }
      return;
    }
    const bool was_empty = s.queue.empty();
    s.queue.push_back(std::move(item));
    if (!was_empty) return;  // blocked: the progress thread continues on EPOLLOUT
    result = s.flush(finished, &err);
    if (result == Stream::Flush::blocked) arm(s, true);
  }
  for (auto& r : finished) r->complete();
  if (result == Stream::Flush::error) stream_lost(s, str("connection error: ", std::strerror(err)));
}

void SocketTransport::on_writable(Stream& s) {
  std::vector<RequestPtr> finished;
  Stream::Flush result;
  int err = 0;
  {
    std::lock_guard lock(s.send_mutex);
    if (s.poisoned) return;
    result = s.flush(finished, &err);
    if (result != Stream::Flush::blocked) arm(s, false);
  }
  for (auto& r : finished) r->complete();
  if (result == Stream::Flush::error) stream_lost(s, str("connection error: ", std::strerror(err)));
}

// --- failure --------------------------------------------------------------------------
bool SocketTransport::send_abort(Stream& s, ErrorCode code, const std::string& message) {
  auto error = std::make_exception_ptr(Error(code, message));
  std::vector<RequestPtr> dropped, finished;
  {
    std::lock_guard lock(s.send_mutex);
    if (s.dead || s.poisoned) return false;
    // A frame cut in the middle cannot be followed by another: such a stream
    // falls silent instead (the peer hears from another stream or another
    // rank, or notices our exit).
    if (!s.queue.empty() && s.queue.front().written > 0) return false;
    for (auto& item : s.queue)
      if (item.group) dropped.push_back(item.group->request);
    s.queue.clear();
    SendItem abort;
    wire::FrameHeader frame;
    frame.kind = wire::Kind::kAbort;
    frame.aux = static_cast<uint32_t>(code);
    frame.length = message.size();
    std::memcpy(abort.head, &frame, sizeof frame);
    abort.head_len = sizeof frame;
    abort.control = message;
    s.queue.push_back(std::move(abort));
    s.queue.back().payload = s.queue.back().control.data();
    s.queue.back().payload_len = message.size();
    int err = 0;
    if (s.flush(finished, &err) == Stream::Flush::blocked) arm(s, true);
  }
  for (auto& r : dropped) r->fail(error);
  return true;
}

void SocketTransport::broadcast_failure(ErrorCode code, const std::string& message) {
  for (int p = 0; p < size(); ++p) {
    if (p == rank()) continue;
    for (Stream* s : streams_of(p))
      if (send_abort(*s, code, message)) break;  // one stream per peer carries the news
  }
}

void SocketTransport::fail_sends(std::exception_ptr error) {
  std::vector<RequestPtr> orphans;
  {
    std::lock_guard lock(mutex_);
    orphans.swap(orphans_);
  }
  for (auto& r : orphans) r->fail(error);
  for (int p = 0; p < size(); ++p) {
    if (p == rank()) continue;
    for (Stream* s : streams_of(p)) {
      std::vector<RequestPtr> dropped;
      {
        std::lock_guard lock(s->send_mutex);
        if (!s->queue.empty() && s->queue.front().written > 0 && s->queue.front().group)
          s->poisoned = true;  // its payload may be freed once the request fails
        std::deque<SendItem> keep;
        for (auto& item : s->queue) {
          if (item.group)
            dropped.push_back(item.group->request);
          else if (!s->poisoned)
            keep.push_back(std::move(item));
        }
        s->queue = std::move(keep);
        for (auto& item : s->queue) item.payload = item.control.data();
      }
      for (auto& r : dropped) r->fail(error);
    }
  }
}

void SocketTransport::stream_lost(Stream& s, const std::string& why) {
  {
    std::lock_guard lock(s.send_mutex);
    if (s.dead) return;
    s.dead = true;
  }
  poller_.remove(s.fd());
  if (s.peer < 0 || failure()) return;
  Peer& p = *peers_[s.peer];
  if (p.closed) return;  // it said goodbye; its Close handler judged already
  suspect(s.peer, str("rank ", rank(), ": peer rank ", s.peer, " ", why, " during ", context()));
}

void SocketTransport::suspect(int peer, const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (lost_peer_ != -1) return;
    lost_peer_ = peer;
    lost_why_ = message;
    lost_deadline_ = Clock::now() + options_.lost_grace;
  }
  wake();  // the progress loop shortens its wait to the deadline
}

void SocketTransport::check_lost() {
  std::string message;
  {
    std::lock_guard lock(mutex_);
    if (lost_peer_ < 0 || Clock::now() < lost_deadline_) return;
    lost_peer_ = -2;  // reported
    message = lost_why_;
  }
  fail(ErrorCode::PeerLost, message);
}

// --- the progress thread ----------------------------------------------------------------
void SocketTransport::progress_loop() {
  log::ScopedRank scoped(rank());
  epoll_event events[64];
  while (!stop_.load()) {
    int timeout_ms = 100;
    {
      std::lock_guard lock(mutex_);
      if (lost_peer_ >= 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(lost_deadline_ -
                                                                          Clock::now());
        timeout_ms = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(timeout_ms, left.count() + 1)));
      }
    }
    int n = poller_.wait(events, timeout_ms);
    for (int i = 0; i < n; ++i) {
      const uint64_t token = events[i].data.u64;
      if (token == kListenerToken) {
        accept_all();
      } else if (token == kWakerToken) {
        waker_.drain();
      } else {
        auto* s = reinterpret_cast<Stream*>(static_cast<uintptr_t>(token));
        if (s->dead) continue;
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(*s);
        if (!s->dead && (events[i].events & EPOLLOUT)) on_writable(*s);
      }
    }
    check_lost();
  }
}

void SocketTransport::accept_all() {
  while (true) {
    std::optional<net::Socket> socket;
    try {
      socket = listener_.accept();
    } catch (const Error& e) {
      WEFT_WARN("transport", "rank ", rank(), ": accept failed: ", e.message());
      return;  // EMFILE and the like: the next event retries
    }
    if (!socket) return;
    configure(*socket);
    auto s = std::make_unique<Stream>(std::move(*socket), -1, Stream::Direction::in);
    s->phase = Stream::Phase::hello;
    poller_.add(s->fd(), EPOLLIN | EPOLLRDHUP, token_of(s.get()));
    std::lock_guard lock(mutex_);
    accepted_.push_back(std::move(s));
  }
}

void SocketTransport::on_hello(Stream& s) {
  const wire::Hello& h = s.hello;
  const bool ok = h.magic == wire::kHelloMagic && h.version == wire::kVersion &&
                  h.comm_id == comm_id_ && h.rank >= 0 && h.rank < size() && h.rank != rank() &&
                  h.nsocks >= 1 && h.nsocks <= 64 && h.index >= 0 && h.index < h.nsocks;
  std::lock_guard lock(mutex_);
  auto it = std::find_if(accepted_.begin(), accepted_.end(),
                         [&](auto& p) { return p.get() == &s; });
  if (!ok) {
    WEFT_WARN("transport", "rank ", rank(), ": rejected a connection (magic ", h.magic,
              ", version ", h.version, ", comm ", h.comm_id, " vs ", comm_id_, ", rank ", h.rank,
              ")");
    s.dead = true;
    poller_.remove(s.fd());
    return;  // stays in accepted_ until destruction (the event loop may still hold &s)
  }
  s.peer = h.rank;
  s.phase = Stream::Phase::head;
  s.head_got = 0;
  auto& in = peers_[h.rank]->in;
  if (in.size() < static_cast<size_t>(h.nsocks)) in.resize(static_cast<size_t>(h.nsocks));
  in[static_cast<size_t>(h.index)] = std::move(*it);
  accepted_.erase(it);
  WEFT_TRACE("transport", "rank ", rank(), " <- peer rank ", h.rank, ": stream ", h.index, "/",
             h.nsocks);
  // A peer that connects after we failed learns why at once.
  if (auto f = failure()) {
    try {
      std::rethrow_exception(f);
    } catch (const Error& e) {
      send_abort(s, e.code(), e.message());
    }
  }
}

void SocketTransport::on_frame(Stream& s) {
  const wire::FrameHeader& f = s.frame;
  s.head_got = 0;
  s.phase = Stream::Phase::head;
  switch (f.kind) {
    case wire::Kind::kData: {
      if (f.offset + f.length > f.total || s.direction != Stream::Direction::in) break;
      const OpHeader* header = nullptr;
      OpHeader oh;
      if (f.flags & wire::kHasOpHeader) {
        std::memcpy(oh.bytes, s.head + sizeof(wire::FrameHeader), OpHeader::kSize);
        header = &oh;
      }
      try {
        s.slot = matcher().on_fragment(s.peer, f.tag, f.total, header);
      } catch (const Error& e) {
        if (!failure()) fail(e.code(), str("rank ", rank(), ": ", e.message()));
        s.remaining = f.length;
        s.phase = f.length ? Stream::Phase::discard : Stream::Phase::head;
        return;
      }
      if (f.length == 0) {
        matcher().on_bytes(s.slot, 0);
        s.slot.reset();
        return;
      }
      s.dest = s.slot->dest() + f.offset;
      s.remaining = f.length;
      s.phase = Stream::Phase::payload;
      return;
    }
    case wire::Kind::kAbort:
      s.control.assign(f.length, '\0');
      s.remaining = f.length;
      s.phase = Stream::Phase::control;
      if (f.length == 0) {
        s.phase = Stream::Phase::head;
        on_peer_failure(s.peer, static_cast<ErrorCode>(f.aux), "peer rank failed");
      }
      return;
    case wire::Kind::kClose: {
      peers_[s.peer]->closed = true;
      if (!failure() && matcher().has_pending(s.peer))
        fail(ErrorCode::PeerLost, str("rank ", rank(), ": peer rank ", s.peer,
                                      " destroyed its communicator while rank ", rank(),
                                      " still expected data from it during ", context()));
      return;
    }
  }
  stream_lost(s, str("sent a malformed frame (kind ", static_cast<int>(f.kind), ")"));
}

void SocketTransport::on_readable(Stream& s) {
  static thread_local char sink[64 * 1024];
  while (!s.dead) {
    char* buf = nullptr;
    size_t want = 0;
    switch (s.phase) {
      case Stream::Phase::hello:
        buf = reinterpret_cast<char*>(&s.hello) + s.head_got;
        want = sizeof(wire::Hello) - s.head_got;
        break;
      case Stream::Phase::head: {
        size_t need = sizeof(wire::FrameHeader);
        if (s.head_got >= need && (s.head[3] & wire::kHasOpHeader)) need += OpHeader::kSize;
        buf = reinterpret_cast<char*>(s.head) + s.head_got;
        want = need - s.head_got;
        break;
      }
      case Stream::Phase::payload:
        buf = s.dest;
        want = s.remaining;
        break;
      case Stream::Phase::control:
        buf = s.control.data() + (s.control.size() - s.remaining);
        want = s.remaining;
        break;
      case Stream::Phase::discard:
        buf = sink;
        want = std::min(s.remaining, sizeof sink);
        break;
    }
    ssize_t n = 0;
    const auto receive = [&] { n = ::recv(s.fd(), buf, want, MSG_DONTWAIT); };
    if (s.phase != Stream::Phase::payload) {
      receive();
    } else if (!land(receive)) {
      // Failed: the receive's buffer may be gone; the rest is skipped.
      s.slot.reset();
      s.phase = Stream::Phase::discard;
      continue;
    }
    if (n == 0) {
      stream_lost(s, "closed its connection");
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      stream_lost(s, str("connection error: ", std::strerror(errno)));
      return;
    }
    const size_t got = static_cast<size_t>(n);
    switch (s.phase) {
      case Stream::Phase::hello:
        s.head_got += got;
        if (s.head_got == sizeof(wire::Hello)) on_hello(s);
        break;
      case Stream::Phase::head: {
        s.head_got += got;
        if (s.head_got < sizeof(wire::FrameHeader)) break;
        std::memcpy(&s.frame, s.head, sizeof(wire::FrameHeader));
        if (s.frame.magic != wire::kFrameMagic) {
          stream_lost(s, "sent bytes that are not a weft frame");
          return;
        }
        size_t need = sizeof(wire::FrameHeader) +
                      ((s.frame.flags & wire::kHasOpHeader) ? OpHeader::kSize : 0);
        if (s.head_got == need) on_frame(s);
        break;
      }
      case Stream::Phase::payload:
        s.dest += got;
        s.remaining -= got;
        if (s.remaining == 0) {
          matcher().on_bytes(s.slot, s.frame.length);
          s.slot.reset();
          s.phase = Stream::Phase::head;
        }
        break;
      case Stream::Phase::control:
        s.remaining -= got;
        if (s.remaining == 0) {
          s.phase = Stream::Phase::head;
          if (!closing_) on_peer_failure(s.peer, static_cast<ErrorCode>(s.frame.aux), s.control);
        }
        break;
      case Stream::Phase::discard:
        s.remaining -= got;
        if (s.remaining == 0) s.phase = Stream::Phase::head;
        break;
    }
  }
}

}  // namespace weft::transport
