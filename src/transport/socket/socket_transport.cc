#include "transport/socket/socket_transport.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "weft/log.h"

namespace weft::transport {

using Clock = std::chrono::steady_clock;

SocketTransport::SocketTransport(int rank, int size, HeaderFormatter formatter, uint64_t comm_id,
                                 tcp::Fd listener, std::vector<tcp::Endpoint> peers,
                                 SocketOptions options)
    : Transport(rank, size, std::move(formatter)),
      comm_id_(comm_id),
      options_(options),
      listener_(std::move(listener)),
      endpoints_(std::move(peers)) {
  for (int r = 0; r < size; ++r) peers_.push_back(std::make_unique<Peer>());
  epoll_ = tcp::Fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) throw_errno("epoll_create1");
  wake_fd_ = tcp::Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd_) throw_errno("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &listener_;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev);
  ev.data.ptr = &wake_fd_;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev);
  progress_ = std::thread([this] { progress_loop(); });
}

SocketTransport::~SocketTransport() {
  // An orderly goodbye on every stream that is between frames, so that peers
  // do not take our exit for a crash.
  if (!failure()) {
    wire::FrameHeader close;
    close.kind = wire::Kind::kClose;
    for (int p = 0; p < size(); ++p) {
      if (p == rank()) continue;
      for (Stream* s : streams_of(p)) {
        std::lock_guard lock(s->send_mutex);
        if (!s->dead && !s->poisoned && s->queue.empty())
          tcp::write_all(s->fd.get(), &close, sizeof close, std::chrono::milliseconds(200));
      }
    }
  }
  stop_ = true;
  wake();
  progress_.join();
}

void SocketTransport::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

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
  for (int i = 0; i < options_.nsocks; ++i) {
    tcp::Fd fd;
    try {
      fd = tcp::connect_to(endpoints_[peer], options_.connect_timeout);
    } catch (const Error& e) {
      throw_error(e.code(), str("rank ", rank(), ": cannot connect to peer rank ", peer, ": ",
                                e.message()));
    }
    wire::Hello hello;
    hello.comm_id = comm_id_;
    hello.rank = rank();
    hello.index = i;
    hello.nsocks = options_.nsocks;
    if (!tcp::write_all(fd.get(), &hello, sizeof hello, options_.connect_timeout))
      throw_error(ErrorCode::PeerLost, str("rank ", rank(), ": peer rank ", peer, " at ",
                                           endpoints_[peer].to_string(),
                                           " dropped the connection during the handshake"));
    streams.push_back(std::make_unique<Stream>(std::move(fd), peer, Stream::Direction::out));
  }
  for (auto& s : streams) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = s.get();
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s->fd.get(), &ev);
  }
  p.out = std::move(streams);
  p.connected.store(true, std::memory_order_release);
  WEFT_INFO("transport", "rank ", rank(), " -> peer rank ", peer, ": socket, ", options_.nsocks,
            " stream(s) to ", endpoints_[peer].to_string(), " in ",
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
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0u);
  ev.data.ptr = &s;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, s.fd.get(), &ev);
}

void SocketTransport::post(Stream& s, SendItem item) {
  std::vector<RequestPtr> finished;
  Stream::Flush result = Stream::Flush::empty;
  int err = 0;
  {
    std::lock_guard lock(s.send_mutex);
    if (s.dead || s.poisoned) {
      if (item.group) {
        auto f = failure();
        item.group->request->fail(
            f ? f : std::make_exception_ptr(Error(ErrorCode::PeerLost,
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
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s.fd.get(), nullptr);
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
    int n = ::epoll_wait(epoll_.get(), events, 64, timeout_ms);
    for (int i = 0; i < n; ++i) {
      void* ptr = events[i].data.ptr;
      if (ptr == &listener_) {
        accept_all();
      } else if (ptr == &wake_fd_) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(wake_fd_.get(), &v, sizeof v);
      } else {
        auto* s = static_cast<Stream*>(ptr);
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
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error the next event retries
    tcp::configure(fd);
    auto s = std::make_unique<Stream>(tcp::Fd(fd), -1, Stream::Direction::in);
    s->phase = Stream::Phase::hello;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = s.get();
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
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
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s.fd.get(), nullptr);
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
    ssize_t n = ::recv(s.fd.get(), buf, want, MSG_DONTWAIT);
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
          on_peer_failure(s.peer, static_cast<ErrorCode>(s.frame.aux), s.control);
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
