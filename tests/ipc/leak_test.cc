// Many register/deregister cycles must leave no descriptor and no mapping
// behind, on either side (here both sides live in this process, so
// /proc/self/fd and /proc/self/maps see them all).
#include <sys/mman.h>

#include "ipc/registration_client.h"
#include "ipc/registration_service.h"
#include "register/registrar.h"
#include "test_util.h"
#include "weft/log.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

TEST(IpcLeaks, RegisterDeregisterCyclesLeakNothing) {
  constexpr size_t kSize = 64 * 4096;
  ipc::CpuMapper mapper;
  ipc::RegistrationService svc(ipc::socket_address("leak-test", 1, "reg"), 1, mapper);
  net::Fd memfd = make_memfd(kSize);
  void* local = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
  ASSERT_NE(local, MAP_FAILED);
  reg::MemfdExporter exporter(memfd.get(), local, kSize);
  reg::Registrar r(0, exporter, {{1, svc.address()}}, 10s);
  auto* base = static_cast<char*>(local);

  auto cycle = [&](int i) {
    char* p = base + (i % 32) * 4096;
    auto a = r.register_buffer(p, 3 * 4096);
    auto b = r.register_buffer(p + 100, 200);            // reused
    auto c = r.register_buffer(p + 2 * 4096, 4 * 4096);  // overlaps: union
    r.deregister(b);
    r.deregister(a);
    r.deregister(c);
  };
  cycle(0);  // warm up allocator arenas and the like
  size_t fds = count_open_fds();
  size_t maps = count_mappings();
  for (int i = 0; i < 500; ++i) cycle(i);
  EXPECT_EQ(count_open_fds(), fds);
  EXPECT_EQ(count_mappings(), maps);
  EXPECT_EQ(svc.live_mappings(), 0u);
  EXPECT_EQ(r.live(), 0u);
  ::munmap(local, kSize);
}

TEST(IpcLeaks, ConnectDisconnectCyclesLeakNothing) {
  ipc::CpuMapper mapper;
  ipc::RegistrationService svc(ipc::socket_address("leak-test", 1, "reg-conn"), 1, mapper);
  net::Fd memfd = make_memfd(4096);
  auto cycle = [&] {
    ipc::RegistrationClient client(svc.address(), 0, 1, 10s);
    client.import({ipc::HandleKind::PosixFd, memfd.get(), 4096, 0, {}});
    // Disconnect while holding the mapping: the service must unmap it.
  };
  // Each cycle makes the service WARN about the dropped mapping; keep the log quiet.
  ::setenv("WEFT_DEBUG", "NONE", 1);
  log::reload_config();
  cycle();
  ASSERT_TRUE(eventually([&] { return svc.live_mappings() == 0; }));
  size_t fds = count_open_fds();
  size_t maps = count_mappings();
  for (int i = 0; i < 200; ++i) cycle();
  ASSERT_TRUE(eventually([&] { return svc.live_mappings() == 0; }));
  // The service closes its end asynchronously; give it a moment.
  EXPECT_TRUE(eventually([&] { return count_open_fds() == fds; })) << count_open_fds() << " vs " << fds;
  EXPECT_EQ(count_mappings(), maps);
  ::unsetenv("WEFT_DEBUG");
  log::reload_config();
}

}  // namespace
}  // namespace weft::test
