// The registration service protocol end to end, with the CPU mapper: the
// service runs in a real second process (ipc_test_worker), or in this one
// when the test watches the service's side.
#include <signal.h>
#include <sys/mman.h>

#include <cstring>

#include "control.h"
#include "ipc/registration_client.h"
#include "ipc/registration_service.h"
#include "service_peer.h"
#include "subprocess.h"
#include "test_util.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

TEST(RegistrationService, ImportWriteReleaseAcrossProcesses) {
  ServicePeer peer = ServicePeer::start(1);
  constexpr size_t kSize = 16 * 4096;
  constexpr size_t kOffset = 4096;
  net::Fd memfd = make_memfd(kSize);
  auto* local = static_cast<unsigned char*>(
      ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0));
  ASSERT_NE(local, MAP_FAILED);
  for (size_t i = 0; i < kSize; ++i) local[i] = static_cast<unsigned char>(i % 251);

  ipc::RegistrationClient client(peer.address, 0, 1, 10s);
  ipc::RemoteMapping m = client.import({ipc::HandleKind::PosixFd, memfd.get(), kSize, kOffset, {}});
  EXPECT_NE(m.id, 0u);
  EXPECT_EQ(peer.ask("live"), "1");
  EXPECT_EQ(peer.ask("mapped " + hex(m.address)), "yes");

  // The peer reads our data through its address...
  uint64_t want = 0;
  for (size_t i = kOffset; i < kOffset + 1000; ++i) want += local[i];
  EXPECT_EQ(peer.ask("sum " + hex(m.address) + " 1000"), std::to_string(want));
  // ...and writes through it: we see the write at the same offset.
  EXPECT_EQ(peer.ask("write " + hex(m.address + 100) + " 64 90"), "ok");
  for (size_t i = 0; i < 64; ++i) ASSERT_EQ(local[kOffset + 100 + i], 90) << i;
  EXPECT_EQ(local[kOffset + 99], (kOffset + 99) % 251);
  EXPECT_EQ(local[kOffset + 164], (kOffset + 164) % 251);

  // A second import of the same memory is a second, independent mapping.
  ipc::RemoteMapping m2 = client.import({ipc::HandleKind::PosixFd, memfd.get(), kSize, 0, {}});
  EXPECT_NE(m2.id, m.id);
  EXPECT_EQ(peer.ask("live"), "2");

  client.release(m.id);
  EXPECT_EQ(peer.ask("mapped " + hex(m.address)), "no");
  EXPECT_EQ(peer.ask("live"), "1");
  client.release(m2.id);
  EXPECT_EQ(peer.ask("live"), "0");
  ::munmap(local, kSize);
  EXPECT_EQ(peer.ask("exit"), "<eof>");
  auto st = peer.proc.wait_for(20s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code, 0);
}

TEST(RegistrationService, ErrorsComeBackWithThePeerRank) {
  ServicePeer peer = ServicePeer::start(1);
  ipc::RegistrationClient client(peer.address, 0, 1, 10s);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  net::Fd r(p[0]), w(p[1]);

  Error e = catch_error([&] { client.import({ipc::HandleKind::PosixFd, r.get(), 4096, 0, {}}); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(e.message(), "rank 0: import #1 at peer rank 1 failed there: cpu mapper: import of "
                         "4096 bytes but the file has only 0");

  net::Fd memfd = make_memfd(4096);
  e = catch_error([&] { client.import({ipc::HandleKind::PosixFd, memfd.get(), 4096, 4096, {}}); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(e.message(), "rank 0: import #2 at peer rank 1 failed there: import of 4096 bytes at "
                         "offset 4096 is empty or out of range");

  e = catch_error([&] { client.import({ipc::HandleKind::CudaLegacyIpc, -1, 4096, 0, {}}); });
  EXPECT_EQ(e.code(), ErrorCode::Unsupported);
  EXPECT_EQ(e.message(), "rank 0: import #3 at peer rank 1 failed there: cpu mapper cannot import "
                         "a cuda-legacy-ipc handle");

  e = catch_error([&] { client.release(999); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(e.message(), "rank 0: release #4 at peer rank 1 failed there: release of mapping #999, "
                         "which this peer does not hold");

  // Errors leave the connection usable.
  auto m = client.import({ipc::HandleKind::PosixFd, memfd.get(), 4096, 0, {}});
  EXPECT_EQ(peer.ask("live"), "1");
  client.release(m.id);
  EXPECT_EQ(peer.ask("live"), "0");
}

TEST(RegistrationService, WrongPeerRankIsMismatch) {
  ServicePeer peer = ServicePeer::start(2);
  ipc::RegistrationClient client(peer.address, 0, 1, 10s);  // we think it is rank 1
  net::Fd memfd = make_memfd(4096);
  Error e = catch_error([&] { client.import({ipc::HandleKind::PosixFd, memfd.get(), 4096, 0, {}}); });
  EXPECT_EQ(e.code(), ErrorCode::Mismatch);
  EXPECT_NE(e.message().find("unexpected reply (request #1 from rank 2"), std::string::npos)
      << e.message();
}

TEST(RegistrationService, DeadServicePeerIsPeerLostNotAHang) {
  ServicePeer peer = ServicePeer::start(1);
  ipc::RegistrationClient client(peer.address, 0, 1, 30s);
  net::Fd memfd = make_memfd(4096);
  client.import({ipc::HandleKind::PosixFd, memfd.get(), 4096, 0, {}});
  peer.proc.kill(SIGKILL);
  ASSERT_TRUE(peer.proc.wait_for(10s).has_value());
  auto t0 = std::chrono::steady_clock::now();
  Error e = catch_error([&] { client.import({ipc::HandleKind::PosixFd, memfd.get(), 4096, 0, {}}); });
  EXPECT_EQ(e.code(), ErrorCode::PeerLost);
  EXPECT_TRUE(e.message().starts_with("rank 0: import #2 at peer rank 1: ")) << e.message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // far below the 30 s timeout
  // The connection is dead for good: later calls fail at once with the same code.
  e = catch_error([&] { client.release(1); });
  EXPECT_EQ(e.code(), ErrorCode::PeerLost);
  EXPECT_EQ(e.message(), "rank 0: release #3 at peer rank 1: the connection failed earlier (PeerLost) "
                         "and was closed");
}

TEST(RegistrationService, DeadClientsMappingsAreUnmapped) {
  ipc::CpuMapper mapper;
  ipc::RegistrationService svc(ipc::socket_address("svc-test", 0, "reg-dead-client"), 0, mapper);
  std::string dir = make_temp_dir("ipc-client");
  Subprocess::Options opts;
  opts.stdout_path = dir + "/out";
  auto child = Subprocess::spawn({bin("ipc_test_worker"), "client", svc.address(), "5", "0"}, opts);
  ASSERT_TRUE(eventually([&] { return read_file(dir + "/out").find('\n') != std::string::npos; }));
  std::istringstream out(read_file(dir + "/out"));
  std::string word, id, addr;
  out >> word >> id >> addr;
  ASSERT_EQ(word, "imported");
  EXPECT_EQ(svc.live_mappings(), 1u);
  EXPECT_TRUE(is_mapped(parse_hex(addr)));
  child.kill(SIGKILL);
  ASSERT_TRUE(child.wait_for(10s).has_value());
  EXPECT_TRUE(eventually([&] { return svc.live_mappings() == 0; }));
  EXPECT_FALSE(is_mapped(parse_hex(addr)));
  std::remove((dir + "/out").c_str());
  ::rmdir(dir.c_str());
}

// keep_until_stop: a dead peer's mappings stay (this process's kernels may be
// reading them) until the service stops.
TEST(RegistrationService, KeepUntilStopKeepsDeadPeersMappings) {
  ipc::CpuMapper mapper;
  ipc::RegistrationService svc(ipc::socket_address("svc-test", 0, "reg-keep"), 0, mapper,
                               ipc::OnPeerExit::keep_until_stop);
  std::string dir = make_temp_dir("ipc-keep");
  Subprocess::Options opts;
  opts.stdout_path = dir + "/out";
  auto child = Subprocess::spawn({bin("ipc_test_worker"), "client", svc.address(), "5", "0"}, opts);
  ASSERT_TRUE(eventually([&] { return read_file(dir + "/out").find('\n') != std::string::npos; }));
  std::istringstream out(read_file(dir + "/out"));
  std::string word, id, addr;
  out >> word >> id >> addr;
  ASSERT_EQ(word, "imported");
  child.kill(SIGKILL);
  ASSERT_TRUE(child.wait_for(10s).has_value());
  // Give the service time to notice the closed connection; the mapping stays.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(svc.live_mappings(), 1u);
  EXPECT_TRUE(is_mapped(parse_hex(addr)));
  svc.stop();
  EXPECT_EQ(svc.live_mappings(), 0u);
  EXPECT_FALSE(is_mapped(parse_hex(addr)));
  std::remove((dir + "/out").c_str());
  ::rmdir(dir.c_str());
}

TEST(RegistrationService, StopUnmapsAndClientsSeePeerLost) {
  ipc::CpuMapper mapper;
  auto svc = std::make_unique<ipc::RegistrationService>(
      ipc::socket_address("svc-test", 1, "reg-stop"), 1, mapper);
  ipc::RegistrationClient client(svc->address(), 0, 1, 10s);
  net::Fd memfd = make_memfd(8192);
  auto m = client.import({ipc::HandleKind::PosixFd, memfd.get(), 8192, 0, {}});
  EXPECT_TRUE(is_mapped(m.address));
  svc->stop();
  svc->stop();  // idempotent
  EXPECT_EQ(svc->live_mappings(), 0u);
  EXPECT_FALSE(is_mapped(m.address));
  Error e = catch_error([&] { client.import({ipc::HandleKind::PosixFd, memfd.get(), 8192, 0, {}}); });
  EXPECT_EQ(e.code(), ErrorCode::PeerLost);
  svc.reset();
  // The name is free again once the service is gone.
  ipc::RegistrationService again(ipc::socket_address("svc-test", 1, "reg-stop"), 1, mapper);
}

TEST(RegistrationService, ConnectTimeoutNamesBothRanks) {
  std::string name = ipc::socket_address("svc-test", 9, "nobody");
  Error e = catch_error([&] { ipc::RegistrationClient c(name, 4, 9, 100ms); });
  EXPECT_EQ(e.code(), ErrorCode::Timeout);
  EXPECT_EQ(e.message(), "rank 4: connecting to the registration service of peer rank 9: connect to "
                         "unix socket '" + name + "': nobody listening after 100 ms (Connection refused)");
}

TEST(RegistrationService, GarbageConnectionIsDroppedServiceSurvives) {
  ipc::CpuMapper mapper;
  ipc::RegistrationService svc(ipc::socket_address("svc-test", 1, "reg-garbage"), 1, mapper);
  {
    net::Fd raw = ipc::connect_unix(svc.address(), 1s);
    send_text(raw.get(), "this is not a request");
    EXPECT_EQ(recv_text(raw.get(), 5s), "<eof>");  // the service hung up on it
  }
  ipc::RegistrationClient client(svc.address(), 0, 1, 5s);
  net::Fd memfd = make_memfd(4096);
  auto m = client.import({ipc::HandleKind::PosixFd, memfd.get(), 4096, 0, {}});
  client.release(m.id);
  EXPECT_EQ(svc.live_mappings(), 0u);
}

}  // namespace
}  // namespace weft::test
