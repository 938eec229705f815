// Registrar end to end on the CPU: this process (rank 0) registers buffers
// of a memfd-backed arena with two real peer processes (ranks 1 and 2), each
// running a registration service with the CPU mapper.
#include "register/registrar.h"

#include <signal.h>
#include <sys/mman.h>

#include <gtest/gtest.h>

#include "../ipc/service_peer.h"
#include "../ipc/test_util.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

class RegistrarTest : public ::testing::Test {
 protected:
  static constexpr size_t kArena = 256 * 4096;
  void SetUp() override {
    memfd_ = make_memfd(kArena);
    arena_ = static_cast<unsigned char*>(
        ::mmap(nullptr, kArena, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_.get(), 0));
    ASSERT_NE(arena_, MAP_FAILED);
    for (size_t i = 0; i < kArena; ++i) arena_[i] = static_cast<unsigned char>(i % 253);
    exporter_ = std::make_unique<reg::MemfdExporter>(memfd_.get(), arena_, kArena);
    peers_.push_back(ServicePeer::start(1, "registrar-test"));
    peers_.push_back(ServicePeer::start(2, "registrar-test"));
  }
  void TearDown() override { ::munmap(arena_, kArena); }

  std::unique_ptr<reg::Registrar> make_registrar(std::chrono::milliseconds timeout = 10s) {
    return std::make_unique<reg::Registrar>(
        0, *exporter_,
        std::vector<reg::Registrar::Peer>{{1, peers_[0].address}, {2, peers_[1].address}}, timeout);
  }
  uint64_t local_sum(size_t off, size_t len) {
    uint64_t s = 0;
    for (size_t i = off; i < off + len; ++i) s += arena_[i];
    return s;
  }

  net::Fd memfd_;
  unsigned char* arena_ = nullptr;
  std::unique_ptr<reg::MemfdExporter> exporter_;
  std::vector<ServicePeer> peers_;
};

TEST_F(RegistrarTest, EveryPeerSeesTheBufferAndReuseCostsNothing) {
  auto registrar = make_registrar();
  const unsigned char* buf = arena_ + 5 * 4096 + 100;
  auto h = registrar->register_buffer(buf, 3000);
  for (int peer : {1, 2}) {
    ServicePeer& sp = peers_[peer - 1];
    uintptr_t at = registrar->peer_address(h, peer, buf);
    EXPECT_EQ(sp.ask("sum " + hex(at) + " 3000"), std::to_string(local_sum(5 * 4096 + 100, 3000)));
    EXPECT_EQ(sp.ask("live"), "1");
  }
  // Peer 2 writes through its address; we see it in place.
  EXPECT_EQ(peers_[1].ask("write " + hex(registrar->peer_address(h, 2, buf + 10)) + " 5 7"), "ok");
  for (int i = 10; i < 15; ++i) EXPECT_EQ(buf[i], 7);

  // A sub-buffer: same handle, no new mapping anywhere.
  auto h2 = registrar->register_buffer(buf + 8, 16);
  EXPECT_EQ(h2, h);
  EXPECT_EQ(peers_[0].ask("live"), "1");
  EXPECT_EQ(registrar->peer_address(h2, 1, buf + 8), registrar->peer_address(h, 1, buf) + 8);

  registrar->deregister(h2);
  EXPECT_EQ(peers_[0].ask("live"), "1");  // one reference left
  registrar->deregister(h);
  EXPECT_EQ(peers_[0].ask("live"), "0");
  EXPECT_EQ(peers_[1].ask("live"), "0");
  EXPECT_EQ(registrar->live(), 0u);
  Error e = catch_error([&] { registrar->peer_address(h, 1, buf); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(e.message(), str("rank 0: peer_address: unknown registration handle ", h.value));
}

TEST_F(RegistrarTest, OverlappingBuffersGetAUnionMapping) {
  auto registrar = make_registrar();
  auto a = registrar->register_buffer(arena_ + 4096, 2 * 4096);
  auto b = registrar->register_buffer(arena_ + 2 * 4096, 4 * 4096);  // overlaps a
  EXPECT_NE(a, b);
  EXPECT_EQ(peers_[0].ask("live"), "2");  // a's mapping lives on for a's owner
  uintptr_t at = registrar->peer_address(b, 1, arena_ + 4096);  // the union covers a's start
  EXPECT_EQ(peers_[0].ask("sum " + hex(at) + " 20480"), std::to_string(local_sum(4096, 20480)));
  registrar->deregister(a);
  EXPECT_EQ(peers_[0].ask("live"), "1");
  registrar->deregister(b);
  EXPECT_EQ(peers_[0].ask("live"), "0");
}

TEST_F(RegistrarTest, OutsideTheArenaIsInvalidArgument) {
  auto registrar = make_registrar();
  std::vector<char> elsewhere(100);
  Error e = catch_error([&] { registrar->register_buffer(elsewhere.data(), 100); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_TRUE(e.message().starts_with(str("register: buffer ", static_cast<void*>(elsewhere.data()))));
  EXPECT_EQ(registrar->live(), 0u);
}

TEST_F(RegistrarTest, DeadPeerFailsTheRegistrationAndRollsBackTheOthers) {
  auto registrar = make_registrar(500ms);
  peers_[1].proc.kill(SIGKILL);
  ASSERT_TRUE(peers_[1].proc.wait_for(10s).has_value());
  Error e = catch_error([&] { registrar->register_buffer(arena_, 4096); });
  // Connecting to a dead service is refused until the timeout: Timeout, naming peer 2.
  EXPECT_EQ(e.code(), ErrorCode::Timeout);
  EXPECT_TRUE(e.message().starts_with(
      "rank 0: connecting to the registration service of peer rank 2: "))
      << e.message();
  EXPECT_EQ(registrar->live(), 0u);
  EXPECT_EQ(peers_[0].ask("live"), "0");  // peer 1's mapping was released again
}

TEST_F(RegistrarTest, PeerDyingAfterConnectIsPeerLost) {
  auto registrar = make_registrar();
  auto h = registrar->register_buffer(arena_, 4096);  // both peers connected
  peers_[1].proc.kill(SIGKILL);
  ASSERT_TRUE(peers_[1].proc.wait_for(10s).has_value());
  Error e = catch_error([&] { registrar->register_buffer(arena_ + 8 * 4096, 4096); });
  EXPECT_EQ(e.code(), ErrorCode::PeerLost);
  EXPECT_TRUE(e.message().starts_with("rank 0: import #2 at peer rank 2: ")) << e.message();
  EXPECT_EQ(peers_[0].ask("live"), "1");  // only the first registration
  registrar->deregister(h);              // peer 2 is gone: logged, not thrown
  EXPECT_EQ(peers_[0].ask("live"), "0");
}

TEST_F(RegistrarTest, DestructionReleasesEverythingOnThePeers) {
  auto registrar = make_registrar();
  registrar->register_buffer(arena_, 4096);
  registrar->register_buffer(arena_, 4096);
  registrar->register_buffer(arena_ + 16 * 4096, 4096);
  EXPECT_EQ(peers_[1].ask("live"), "2");
  registrar.reset();
  EXPECT_EQ(peers_[0].ask("live"), "0");
  EXPECT_EQ(peers_[1].ask("live"), "0");
}

}  // namespace
}  // namespace weft::test
