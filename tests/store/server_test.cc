// The server under abuse: byte-at-a-time frames, pipelining, malformed,
// truncated and oversized frames, clients vanishing mid-wait, CANCEL_WAIT,
// tokens, the server going away. Raw sockets where the exact bytes matter.
#include <gtest/gtest.h>

#include <future>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "net/address.h"
#include "store_test_util.h"

namespace weft::test {
namespace {

using store::QueryType;
using store::Writer;

TEST(StoreServer, AddressInUse) {
  auto server = start_server();
  StoreServerOptions o;
  o.host = "127.0.0.1";
  o.port = server->port();
  std::string m = error_of([&] { StoreServer::start(o); }, ErrorCode::SystemError);
  EXPECT_NE(m.find(str("listening on 127.0.0.1:", o.port)), std::string::npos) << m;
  EXPECT_NE(m.find("Address already in use"), std::string::npos) << m;
}

TEST(StoreServer, Ipv6Loopback) {
  StoreServerOptions o;
  o.host = "::1";
  o.port = 0;
  std::unique_ptr<StoreServer> server;
  try {
    server = StoreServer::start(o);
  } catch (const Error& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
  auto opts = client_options(server->port());
  opts.host = "::1";
  auto store = TcpStore::connect(opts);
  store->set("v6", std::string_view("yes"));
  EXPECT_EQ(store->get_string("v6"), "yes");
}

TEST(StoreServer, FrameArrivingOneByteAtATime) {
  auto server = start_server();
  RawClient raw(server->port());
  raw.handshake();
  Bytes frame = frame_set("/slow", "value-bytes");
  Writer(frame).type(QueryType::ADD).string("/n").i64(7);
  for (uint8_t byte : frame) {
    raw.send(Bytes{byte});
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(as_i64(raw.recv(8)), 7);
  auto store = TcpStore::connect(client_options(server->port()));
  EXPECT_EQ(store->get_string("slow"), "value-bytes");
}

TEST(StoreServer, PipelinedFramesInOneWrite) {
  auto server = start_server();
  RawClient raw(server->port());
  Bytes frames;
  Writer w(frames);
  w.type(QueryType::VALIDATE).u32(store::kValidateMagic);
  for (int i = 0; i < 200; ++i) w.type(QueryType::ADD).string("/c").i64(1);
  w.type(QueryType::GETNUMKEYS);
  raw.send(frames);
  for (int i = 1; i <= 200; ++i) ASSERT_EQ(as_i64(raw.recv(8)), i);
  EXPECT_EQ(as_i64(raw.recv(8)), 1);
}

// A raw client that breaks the protocol is closed; a well-behaved one
// connected all along keeps working and sees all its keys.
void expect_closed_and_others_fine(StoreServer& server, const Bytes& bad, bool handshake = true) {
  auto good = TcpStore::connect(client_options(server.port()));
  good->set("keep", std::string_view("me"));
  RawClient raw(server.port());
  if (handshake) raw.handshake();
  raw.send(bad);
  EXPECT_TRUE(raw.closed_within(2s));
  EXPECT_EQ(good->get_string("keep"), "me");
  EXPECT_EQ(good->add("after", 1), 1);
  good->delete_key("after");
}

TEST(StoreServer, UnknownQueryTypeClosesOnlyThatClient) {
  auto server = start_server();
  expect_closed_and_others_fine(*server, Bytes{42, 0, 0, 0});
}

TEST(StoreServer, OversizedKeyClosesOnlyThatClient) {
  auto server = start_server();
  Bytes bad;
  Writer(bad).type(QueryType::SET).u64(9000);
  expect_closed_and_others_fine(*server, bad);
}

TEST(StoreServer, ValueOverTheCapClosesOnlyThatClient) {
  StoreServerOptions o;
  o.max_value_bytes = 1024;
  auto server = start_server(o);
  std::string big(1025, 'x');
  expect_closed_and_others_fine(*server, frame_set("/big", big));
  auto store = TcpStore::connect(client_options(server->port()));
  std::string ok(1024, 'y');
  store->set("fits", std::string_view(ok));
  EXPECT_EQ(store->get_string("fits"), ok);
}

TEST(TcpStore, RefusesOverlongKeysBeforeSending) {
  auto server = start_server();
  auto store = TcpStore::connect(client_options(server->port()));
  std::string key(8192, 'k');
  EXPECT_EQ(error_of([&] { store->set(key, std::string_view("v")); }, ErrorCode::InvalidArgument),
            str("store at 127.0.0.1:", server->port(),
                ": key of 8192 bytes is longer than the protocol's 8191-byte limit"));
  key.pop_back();
  store->set(key, std::string_view("v"));  // the longest key that fits
  EXPECT_EQ(store->get_string(key), "v");
}

TEST(StoreServer, AbsurdCountClosesOnlyThatClient) {
  auto server = start_server();
  Bytes bad;
  Writer(bad).type(QueryType::MULTI_GET).u64(uint64_t(1) << 50);
  expect_closed_and_others_fine(*server, bad);
}

TEST(StoreServer, BadMagicAndMissingValidateAreRefused) {
  auto server = start_server();
  Bytes bad_magic;
  Writer(bad_magic).type(QueryType::VALIDATE).u32(0x12345678);
  expect_closed_and_others_fine(*server, bad_magic, /*handshake=*/false);
  expect_closed_and_others_fine(*server, frame_get("/keep"), /*handshake=*/false);
}

TEST(StoreServer, AddOnNonCounterClosesThatClientWithAClearError) {
  auto server = start_server();
  auto store = TcpStore::connect(client_options(server->port()));
  store->set("text", std::string_view("abc"));
  std::string m = error_of([&] { store->add("text", 1); }, ErrorCode::PeerLost);
  EXPECT_NE(m.find(str("store at 127.0.0.1:", server->port(), ": add 'text'")), std::string::npos)
      << m;
  // This client's connection is gone for good, with the reason repeated.
  m = error_of([&] { store->get("text"); }, ErrorCode::PeerLost);
  EXPECT_NE(m.find("connection lost earlier"), std::string::npos) << m;
  auto other = TcpStore::connect(client_options(server->port()));
  EXPECT_EQ(other->get_string("text"), "abc");
}

TEST(StoreServer, TruncatedFrameThenDisconnect) {
  auto server = start_server();
  auto good = TcpStore::connect(client_options(server->port()));
  {
    RawClient raw(server->port());
    raw.handshake();
    Bytes f = frame_set("/half", "0123456789");
    f.resize(f.size() - 4);
    raw.send(f);
  }
  EXPECT_TRUE(eventually([&] { return server->num_clients() == 1; }));
  std::string half = "half";
  EXPECT_FALSE(good->check(std::span(&half, 1)));
}

// A session of frames cut at every byte offset: whatever byte a client dies
// at, the server drops it cleanly and its complete frames took effect.
TEST(StoreServer, DisconnectAtEveryByte) {
  auto server = start_server();
  Bytes session;
  Writer w(session);
  w.type(QueryType::VALIDATE).u32(store::kValidateMagic);
  w.type(QueryType::ADD).string("/cuts").i64(1);
  w.type(QueryType::WAIT).u64(1).string("/never");
  for (size_t cut = 0; cut <= session.size(); ++cut) {
    RawClient raw(server->port());
    raw.send(Bytes(session.begin(), session.begin() + static_cast<std::ptrdiff_t>(cut)));
  }
  EXPECT_TRUE(eventually([&] { return server->num_clients() == 0; }));
  EXPECT_EQ(server->num_waiters(), 0u);
  // ADD's frame is complete in every cut from its last byte on.
  size_t add_end = 1 + 4 + 1 + 8 + 5 + 8;
  auto store = TcpStore::connect(client_options(server->port()));
  EXPECT_EQ(store->get_string("cuts"), std::to_string(session.size() - add_end + 1));
}

// A client that pipelines requests without reading the replies: the server
// stops reading from it once 64 MiB of replies are pending (instead of
// buffering without bound), keeps serving others, and resumes as it drains.
TEST(StoreServer, SlowReaderGetsEveryReplyInOrder) {
  auto server = start_server();
  auto store = TcpStore::connect(client_options(server->port()));
  Bytes big(1 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 13);
  store->set("big", big);
  RawClient raw(server->port());
  raw.handshake();
  constexpr int kRequests = 100;  // 100 MiB of replies
  Bytes frames;
  for (int i = 0; i < kRequests; ++i) {
    Bytes f = frame_get("/big");
    frames.insert(frames.end(), f.begin(), f.end());
    Writer(frames).type(QueryType::ADD).string("/seq").i64(1);
  }
  raw.send(frames);
  // Meanwhile another client is served promptly.
  EXPECT_EQ(store->add("other", 1), 1);
  for (int i = 1; i <= kRequests; ++i) {
    ASSERT_EQ(as_i64(raw.recv(8, 10s)), static_cast<int64_t>(big.size()));
    ASSERT_EQ(raw.recv(big.size(), 10s), big);
    ASSERT_EQ(as_i64(raw.recv(8, 10s)), i);
  }
}

TEST(StoreServer, ClientDyingInWaitLeavesNoWaiter) {
  auto server = start_server();
  {
    RawClient raw(server->port());
    raw.handshake();
    Bytes wait;
    Writer(wait).type(QueryType::WAIT).u64(2).string("/never1").string("/never2");
    raw.send(wait);
    EXPECT_TRUE(eventually([&] { return server->num_waiters() == 2; }));
  }
  EXPECT_TRUE(eventually([&] { return server->num_waiters() == 0 && server->num_clients() == 0; }));
  auto store = TcpStore::connect(client_options(server->port()));
  store->set("never1", std::string_view("1"));  // nobody to wake: no crash, no write
  EXPECT_EQ(store->num_keys(), 1);
}

TEST(StoreServer, ManyWaitersOnOneKey) {
  auto server = start_server();
  std::vector<std::unique_ptr<RawClient>> waiters;
  Bytes wait;
  Writer(wait).type(QueryType::WAIT).u64(1).string("/go");
  for (int i = 0; i < 100; ++i) {
    waiters.push_back(std::make_unique<RawClient>(server->port()));
    waiters.back()->handshake();
    waiters.back()->send(wait);
  }
  EXPECT_TRUE(eventually([&] { return server->num_waiters() == 100; }));
  auto store = TcpStore::connect(client_options(server->port()));
  store->set("go", std::string_view("1"));
  for (auto& w : waiters) EXPECT_EQ(w->recv(1), Bytes{0});  // STOP_WAITING
  EXPECT_TRUE(eventually([&] { return server->num_waiters() == 0; }));
}

TEST(StoreServer, CancelWait) {
  auto server = start_server();
  RawClient raw(server->port());
  raw.handshake();
  Bytes wait, cancel;
  Writer(wait).type(QueryType::WAIT).u64(1).string("/later");
  Writer(cancel).type(QueryType::CANCEL_WAIT);
  raw.send(wait);
  EXPECT_TRUE(raw.silent_for(50ms));
  raw.send(cancel);
  EXPECT_EQ(raw.recv(1), Bytes{1});  // WAIT_CANCELED
  EXPECT_TRUE(eventually([&] { return server->num_waiters() == 0; }));
  // Once cancelled, the key appearing sends nothing.
  auto store = TcpStore::connect(client_options(server->port()));
  store->set("later", std::string_view("x"));
  EXPECT_TRUE(raw.silent_for(200ms));
  // CANCEL_WAIT with no wait pending is answered too (torch's client may race).
  raw.send(cancel);
  EXPECT_EQ(raw.recv(1), Bytes{1});
  // A satisfied wait answers STOP_WAITING at once; a cancel after it still
  // gets WAIT_CANCELED, in that order.
  raw.send(wait);
  raw.send(cancel);
  EXPECT_EQ(raw.recv(2), (Bytes{0, 1}));
}

TEST(StoreServer, ListKeys) {
  auto server = start_server();
  auto store = TcpStore::connect(client_options(server->port()));
  store->set("b", std::string_view("2"));
  store->set("a", std::string_view("1"));
  store->queue_push("q", to_bytes("not a key"));
  RawClient raw(server->port());
  raw.handshake();
  raw.send(Bytes{static_cast<uint8_t>(QueryType::LIST_KEYS)});
  ASSERT_EQ(as_i64(raw.recv(8)), 2);
  std::vector<std::string> keys;
  for (int i = 0; i < 2; ++i) {
    auto size = static_cast<size_t>(as_i64(raw.recv(8)));
    auto key = raw.recv(size);
    keys.emplace_back(key.begin(), key.end());
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"/a", "/b"}));
}

TEST(StoreServer, Barrier) {
  auto server = start_server();
  Bytes barrier;
  Writer(barrier).type(QueryType::BARRIER).string("/bar").i64(3);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<RawClient>(server->port()));
    clients.back()->handshake();
  }
  clients[0]->send(barrier);
  clients[1]->send(barrier);
  EXPECT_TRUE(clients[0]->silent_for(100ms));
  EXPECT_TRUE(eventually([&] { return server->num_waiters() == 2; }));
  clients[2]->send(barrier);
  for (auto& c : clients) EXPECT_EQ(c->recv(1), Bytes{0});  // STOP_WAITING
  EXPECT_TRUE(eventually([&] { return server->num_waiters() == 0; }));
  auto store = TcpStore::connect(client_options(server->port()));
  EXPECT_EQ(store->get_string("bar"), "3");
}

TEST(StoreServer, SecondWaitWhilePendingIsAProtocolError) {
  auto server = start_server();
  RawClient raw(server->port());
  raw.handshake();
  Bytes wait;
  Writer(wait).type(QueryType::WAIT).u64(1).string("/x");
  raw.send(wait);
  raw.send(wait);
  EXPECT_TRUE(raw.closed_within(2s));
  EXPECT_TRUE(eventually([&] { return server->num_waiters() == 0; }));
}

TEST(StoreServer, TimedOutWaitLeavesTheConnectionUsable) {
  auto server = start_server();
  auto store = TcpStore::connect(client_options(server->port()));
  std::vector<std::string> keys{"absent"};
  error_of([&] { store->wait(keys, 50ms); }, ErrorCode::Timeout);
  EXPECT_TRUE(eventually([&] { return server->num_waiters() == 0; }));
  store->set("absent", std::string_view("now"));
  EXPECT_EQ(store->get_string("absent"), "now");
}

// Random garbage, truncated frames and frames with corrupted lengths, each on
// its own connection, against a server holding known keys: afterwards every
// known key is intact and the server answers correctly.
TEST(StoreServer, FuzzedFramesLoseNoKeys) {
  StoreServerOptions o;
  o.max_value_bytes = 1 << 20;
  auto server = start_server(o);
  auto good = TcpStore::connect(client_options(server->port()));
  for (int i = 0; i < 50; ++i) good->set(str("known/", i), std::string_view(str("value-", i)));
  good->add("known/counter", 10);

  std::mt19937 rng(20261122);
  auto rnd = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  std::vector<Bytes> valid;
  for (int i = 0; i < 8; ++i) {
    Bytes f;
    Writer w(f);
    switch (i) {
      case 0: w.type(QueryType::SET).string(str("/fuzz/", i)).bytes(to_bytes("abc")); break;
      case 1: w.type(QueryType::MULTI_SET).u64(2).string("/fuzz/a").bytes(to_bytes("1")).string("/fuzz/b").bytes(to_bytes("2")); break;
      case 2: w.type(QueryType::CHECK).u64(2).string("/fuzz/a").string("/known/1"); break;
      case 3: w.type(QueryType::COMPARE_SET).string("/fuzz/c").bytes(Bytes()).bytes(to_bytes("z")); break;
      case 4: w.type(QueryType::MULTI_GET).u64(1).string("/known/2"); break;
      case 5: w.type(QueryType::APPEND).string("/fuzz/d").bytes(to_bytes("tail")); break;
      case 6: w.type(QueryType::QUEUE_PUSH).string("/fuzz/q").bytes(to_bytes("item")); break;
      default: w.type(QueryType::ADD).string("/fuzz/n").i64(3); break;
    }
    valid.push_back(f);
  }
  const int kRounds = 300;
  for (int round = 0; round < kRounds; ++round) {
    RawClient raw(server->port());
    bool do_handshake = rnd(4) != 0;
    if (do_handshake) raw.handshake();
    Bytes junk;
    switch (rnd(4)) {
      case 0:  // pure garbage
        junk.resize(1 + rnd(64));
        for (auto& byte : junk) byte = static_cast<uint8_t>(rng());
        break;
      case 1:  // a valid frame cut short
        junk = valid[rnd(valid.size())];
        junk.resize(rnd(junk.size()));
        break;
      case 2: {  // a valid frame with one byte flipped (often a length)
        junk = valid[rnd(valid.size())];
        junk[1 + rnd(junk.size() - 1)] ^= static_cast<uint8_t>(1 + rnd(255));
        break;
      }
      default: {  // several valid frames then garbage
        for (int k = 0; k < 3; ++k) {
          const Bytes& f = valid[rnd(valid.size())];
          junk.insert(junk.end(), f.begin(), f.end());
        }
        for (int k = 0; k < 9; ++k) junk.push_back(static_cast<uint8_t>(rng()));
        break;
      }
    }
    raw.send(junk);
    if (round % 50 == 0) {
      // Mid-way checks: still serving correct answers.
      ASSERT_EQ(good->get_string(str("known/", round % 50)), str("value-", round % 50));
    }
  }
  for (int i = 0; i < 50; ++i) EXPECT_EQ(good->get_string(str("known/", i)), str("value-", i));
  EXPECT_EQ(good->add("known/counter", 1), 11);
  // Fresh clients work and every garbage connection is eventually gone or idle.
  auto fresh = TcpStore::connect(client_options(server->port()));
  EXPECT_EQ(fresh->get_string("known/7"), "value-7");
  EXPECT_TRUE(eventually([&] { return server->num_clients() == 2; }));
  EXPECT_EQ(server->num_waiters(), 0u);
}

TEST(StoreServer, TokenAcceptedAndRefused) {
  StoreServerOptions o;
  o.token = "s3cret";
  auto server = start_server(o);
  auto opts = client_options(server->port());
  opts.token = "s3cret";
  auto store = TcpStore::connect(opts);
  store->set("t", std::string_view("ok"));
  EXPECT_EQ(store->get_string("t"), "ok");

  opts.token = "wrong";
  EXPECT_EQ(error_of([&] { TcpStore::connect(opts); }, ErrorCode::Mismatch),
            str("store at 127.0.0.1:", server->port(), " refused the token"));
  opts.token = "";
  EXPECT_EQ(error_of([&] { TcpStore::connect(opts); }, ErrorCode::Mismatch),
            str("store at 127.0.0.1:", server->port(),
                " closed the connection during the handshake 3 times; it probably requires a "
                "token (set WEFT_STORE_TOKEN) (or it is out of file descriptors: see its log)"));
  // A torch-style client (VALIDATE first) is refused too.
  RawClient raw(server->port());
  Bytes hello;
  Writer(hello).type(QueryType::VALIDATE).u32(store::kValidateMagic);
  raw.send(hello);
  EXPECT_TRUE(raw.closed_within(2s));
  EXPECT_EQ(store->get_string("t"), "ok");
}

// A server out of file descriptors refuses new clients at once (no spinning,
// no hang), keeps its connected clients, and takes new ones once some leave.
TEST(StoreServer, OutOfDescriptorsShedsAndRecovers) {
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the server, with few descriptors
    ::close(pipefd[0]);
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = 48;
    setrlimit(RLIMIT_NOFILE, &limit);
    auto server = start_server();
    uint16_t port = server->port();
    if (::write(pipefd[1], &port, sizeof port) != sizeof port) _exit(1);
    ::sleep(60);
    _exit(0);
  }
  ::close(pipefd[1]);
  uint16_t port = 0;
  ASSERT_EQ(::read(pipefd[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
  ::close(pipefd[0]);
  auto opts = client_options(port);
  opts.connect_timeout = 5s;
  std::vector<std::unique_ptr<TcpStore>> clients;
  std::string refused;
  for (int i = 0; i < 60 && refused.empty(); ++i) {
    try {
      clients.push_back(TcpStore::connect(opts));
    } catch (const Error& e) {
      refused = e.message();
    }
  }
  EXPECT_NE(refused.find("out of file descriptors"), std::string::npos) << refused;
  ASSERT_GT(clients.size(), 10u);
  clients[0]->set("still", std::string_view("here"));
  EXPECT_EQ(clients.back()->get_string("still"), "here");
  clients.resize(clients.size() / 2);
  std::unique_ptr<TcpStore> late;
  EXPECT_TRUE(eventually([&] {
    try {
      late = TcpStore::connect(opts);
      return true;
    } catch (const Error&) {
      return false;
    }
  }, 10s));
  if (late) {
    EXPECT_EQ(late->get_string("still"), "here");
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST(StoreServer, SilentConnectionsAreClosedAfterTheHandshakeTimeout) {
  ::setenv("WEFT_STORE_HANDSHAKE_TIMEOUT_S", "0.3", 1);
  auto server = start_server();
  ::unsetenv("WEFT_STORE_HANDSHAKE_TIMEOUT_S");
  RawClient silent(server->port());
  RawClient half(server->port());
  half.send(Bytes{static_cast<uint8_t>(QueryType::VALIDATE), 0xCE});  // 2 of 5 bytes
  auto store = TcpStore::connect(client_options(server->port()));
  EXPECT_TRUE(silent.closed_within(3s));
  EXPECT_TRUE(half.closed_within(3s));
  // A validated client is not subject to it.
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(store->add("alive", 1), 1);
}

TEST(StoreServer, TokenSentToAServerWithoutOneIsAccepted) {
  auto server = start_server();
  auto opts = client_options(server->port());
  opts.token = "anything";
  auto store = TcpStore::connect(opts);
  EXPECT_EQ(store->add("x", 2), 2);
}

TEST(StoreServer, StoppedServerIsAClearErrorNotAHang) {
  auto server = start_server();
  uint16_t port = server->port();
  auto store = TcpStore::connect(client_options(port));
  store->set("k", std::string_view("v"));
  auto waiter_store = TcpStore::connect(client_options(port));
  auto waiter = std::async(std::launch::async, [&] {
    std::vector<std::string> keys{"never"};
    return error_of([&] { waiter_store->wait(keys, 30s); }, ErrorCode::PeerLost);
  });
  EXPECT_TRUE(eventually([&] { return server->num_waiters() == 1; }));
  auto start = std::chrono::steady_clock::now();
  server.reset();
  std::string m = waiter.get();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_NE(m.find(str("store at 127.0.0.1:", port, ": wait 'never'")), std::string::npos) << m;
  EXPECT_NE(m.find("closed the connection"), std::string::npos) << m;
  m = error_of([&] { store->get("k"); }, ErrorCode::PeerLost);
  EXPECT_NE(m.find(str("store at 127.0.0.1:", port, ": get 'k'")), std::string::npos) << m;
}

TEST(StoreServer, ConnectGivesUpAfterTheConnectTimeout) {
  uint16_t port = 0;
  {
    auto l = net::Listener::listen("127.0.0.1", 0, 1);
    port = l.port();
  }
  auto opts = client_options(port);
  opts.connect_timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  std::string m = error_of([&] { TcpStore::connect(opts); }, ErrorCode::SystemError);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
  EXPECT_NE(m.find(str("could not connect to the store at 127.0.0.1:", port, " for 0.")),
            std::string::npos) << m;
  EXPECT_NE(m.find("Connection refused (errno 111)"), std::string::npos) << m;
}

TEST(StoreServer, ClientStartedBeforeServerConnectsWhenItComesUp) {
  uint16_t port = 0;
  {
    auto l = net::Listener::listen("127.0.0.1", 0, 1);
    port = l.port();
  }
  auto client = std::async(std::launch::async, [port] {
    auto store = TcpStore::connect(client_options(port));
    return store->get_string("hello");
  });
  std::this_thread::sleep_for(200ms);
  StoreServerOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  auto server = StoreServer::start(o);
  auto store = TcpStore::connect(client_options(port));
  store->set("hello", std::string_view("world"));
  EXPECT_EQ(client.get(), "world");
}

}  // namespace
}  // namespace weft::test
