// src/net: endpoints, resolution, connect/listen/accept, full reads and
// writes with deadlines and their error mapping, the poller and its waker.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <thread>
#include <vector>

#include "net/address.h"
#include "net/poller.h"
#include "net/socket.h"
#include "store_test_util.h"

namespace weft::test {
namespace {

// A connected pair over loopback: (client side, server side).
std::pair<net::Socket, net::Socket> connected_pair() {
  auto listener = net::Listener::listen("127.0.0.1", 0, 4);
  net::Socket client = net::connect_tcp("127.0.0.1", listener.port(), net::Deadline::after(5s));
  std::optional<net::Socket> server;
  EXPECT_TRUE(eventually([&] { return (server = listener.accept()).has_value(); }));
  return {std::move(client), std::move(*server)};
}

TEST(Net, ParseEndpoint) {
  EXPECT_EQ(net::parse_endpoint("host:29500"), (net::Endpoint{"host", 29500}));
  EXPECT_EQ(net::parse_endpoint("10.0.0.1:1"), (net::Endpoint{"10.0.0.1", 1}));
  EXPECT_EQ(net::parse_endpoint("[::1]:80"), (net::Endpoint{"::1", 80}));
  EXPECT_EQ(net::Endpoint("fe80::1", 5).to_string(), "[fe80::1]:5");
  EXPECT_EQ(error_of([] { net::parse_endpoint("::1:80"); }, ErrorCode::InvalidArgument),
            "bad endpoint '::1:80': IPv6 literals need brackets (expected host:port or [v6]:port)");
  error_of([] { net::parse_endpoint("host"); }, ErrorCode::InvalidArgument);
  error_of([] { net::parse_endpoint("host:70000"); }, ErrorCode::InvalidArgument);
  error_of([] { net::parse_endpoint("[::1]80"); }, ErrorCode::InvalidArgument);
}

TEST(Net, ConnectRefusedNamesTheAddress) {
  uint16_t port = 0;
  {
    auto l = net::Listener::listen("127.0.0.1", 0, 1);
    port = l.port();
  }
  std::string m = error_of([&] { net::connect_tcp("127.0.0.1", port, net::Deadline::after(1s)); },
                           ErrorCode::SystemError);
  EXPECT_NE(m.find(str("connecting to 127.0.0.1:", port)), std::string::npos) << m;
  EXPECT_NE(m.find("Connection refused"), std::string::npos) << m;
}

TEST(Net, HostNamesResolve) {
  auto listener = net::Listener::listen("127.0.0.1", 0, 4);
  // "localhost" may resolve to ::1 first (refused here), then 127.0.0.1.
  net::Socket s = net::connect_tcp("localhost", listener.port(), net::Deadline::after(5s));
  EXPECT_EQ(s.peer(), str("localhost:", listener.port()));
  EXPECT_FALSE(net::resolve("localhost", 80, false).empty());
  error_of([] { net::resolve("no-such-host.invalid", 80, false); }, ErrorCode::SystemError);
}

TEST(Net, SendAllRecvExactAcrossPartialTransfers) {
  auto [a, b] = connected_pair();
  // Far more than the socket buffers hold: both sides must loop over EAGAIN.
  Bytes data(8 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
  std::thread sender([&, &a = a] { a.send_all(data, net::Deadline::after(10s)); });
  Bytes got(data.size());
  b.recv_exact(got, net::Deadline::after(10s));
  sender.join();
  EXPECT_EQ(got, data);
}

TEST(Net, PeerClosedIsPeerLost) {
  auto [a, b] = connected_pair();
  std::string peer = a.peer();
  Bytes two{1, 2};
  b.send_all(two, net::Deadline::after(1s));
  b.close();
  Bytes buf(4);
  EXPECT_EQ(error_of([&, &a = a] { a.recv_exact(buf, net::Deadline::after(1s), "reading reply"); },
                     ErrorCode::PeerLost),
            str("reading reply: ", peer, " closed the connection mid-message (2 of 4 bytes)"));
}

TEST(Net, RecvDeadlineIsTimeout) {
  auto [a, b] = connected_pair();
  Bytes buf(1);
  auto start = std::chrono::steady_clock::now();
  std::string m = error_of([&, &a = a] { a.recv_exact(buf, net::Deadline::after(100ms)); },
                           ErrorCode::Timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  EXPECT_EQ(m, str("receive from ", a.peer(), ": timed out"));
}

TEST(Net, SendToAClosedPeerIsPeerLost) {
  auto [a, b] = connected_pair();
  b.close();
  Bytes chunk(1 << 16);
  // The first sends may still be buffered; the reset surfaces soon after.
  error_of([&, &a = a] {
    for (int i = 0; i < 1000; ++i) a.send_all(chunk, net::Deadline::after(1s));
  }, ErrorCode::PeerLost);
}

TEST(Net, PollerAndWaker) {
  net::Poller poller;
  net::Waker waker;
  poller.add(waker.fd(), EPOLLIN, 7);
  std::array<epoll_event, 4> events{};
  EXPECT_EQ(poller.wait(events, 0), 0);
  std::thread t([&] { waker.wake(); });
  ASSERT_EQ(poller.wait(events, 5000), 1);
  t.join();
  EXPECT_EQ(events[0].data.u64, 7u);
  waker.drain();
  EXPECT_EQ(poller.wait(events, 0), 0);
}

TEST(Net, ListenerAcceptIsNonBlocking) {
  auto listener = net::Listener::listen("127.0.0.1", 0, 4);
  EXPECT_FALSE(listener.accept().has_value());
  EXPECT_EQ(listener.address(), str("127.0.0.1:", listener.port()));
}

// Two processes that listen on one port at the same moment: exactly one must
// end up listening and the other get EADDRINUSE. Linux can fail both listen()
// calls when they overlap (each sees the other marked listening). Without
// Listener::listen's retry, runs of this test on the quiet 2-core VM saw 11,
// 14, 0, 0 and, with each process on a CPU of its own, 1, 1, 0, 2 rounds of
// 2000 with nobody listening: it catches the bug in about half to three
// quarters of its runs there, seldom while other work fills the cores. The
// launcher test that met the bug in CI (two weftrun agents racing to host
// the store) now cannot meet it.
TEST(Net, TwoProcessesListeningOnOnePortAtOnceLeaveExactlyOneListening) {
  constexpr int kRounds = 2000;
  std::vector<int> cpus;
  cpu_set_t allowed;
  if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  int both_failed = 0, taken_elsewhere = 0;
  for (int round = 0; round < kRounds; ++round) {
    uint16_t port = net::Listener::listen("127.0.0.1", 0, 1).port();
    auto start = std::chrono::steady_clock::now() + 3ms;
    int results[2], release[2];
    ASSERT_EQ(::pipe(results), 0);
    ASSERT_EQ(::pipe(release), 0);
    pid_t children[2];
    for (int k = 0; k < 2; ++k) {
      pid_t& child = children[k];
      child = ::fork();
      ASSERT_GE(child, 0);
      if (child == 0) {
        ::close(results[0]);
        ::close(release[1]);
        // Each on a CPU of its own where there are two, so that the two
        // listen() calls really overlap.
        if (cpus.size() >= 2) {
          cpu_set_t one;
          CPU_ZERO(&one);
          CPU_SET(cpus[static_cast<size_t>(k)], &one);
          ::sched_setaffinity(0, sizeof one, &one);
        }
        while (std::chrono::steady_clock::now() < start) {
        }
        char outcome = 'L';
        std::optional<net::Listener> listener;
        try {
          listener = net::Listener::listen("0.0.0.0", port, 16);
        } catch (const Error& e) {
          bool in_use = std::string(e.what()).find(str("listening on 0.0.0.0:", port, ": Address already in use")) !=
                        std::string::npos;
          outcome = in_use ? 'U' : 'X';
        }
        (void)!::write(results[1], &outcome, 1);
        char ignored;
        (void)!::read(release[0], &ignored, 1);  // hold the port until both have tried
        ::_exit(0);
      }
    }
    ::close(results[1]);
    ::close(release[0]);
    std::string outcomes(2, '?');
    for (char& c : outcomes) ASSERT_EQ(::read(results[0], &c, 1), 1);
    ::close(release[1]);
    ::close(results[0]);
    for (pid_t child : children) ::waitpid(child, nullptr, 0);
    std::sort(outcomes.begin(), outcomes.end());
    if (outcomes == "UU") {
      // Another process of the machine may have taken the port since it was
      // picked (a connection's ephemeral port): then it is still taken now.
      // The race leaves it free.
      try {
        net::Listener::listen("0.0.0.0", port, 16);
      } catch (const Error&) {
        ++taken_elsewhere;
        continue;
      }
      ++both_failed;
      continue;
    }
    ASSERT_EQ(outcomes, "LU") << "round " << round << " on port " << port
                              << " (L listening, U address in use, X another error)";
  }
  EXPECT_EQ(both_failed, 0) << "rounds in which neither process ended up listening, of " << kRounds;
  EXPECT_LT(taken_elsewhere, kRounds / 100) << "rounds whose port another process took";
}

}  // namespace
}  // namespace weft::test
