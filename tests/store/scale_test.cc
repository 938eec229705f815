// 1000 concurrent clients on loopback — real sockets, in 4 worker processes
// of 250 client threads — through three set/add/wait barrier rounds against
// one embedded server.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "subprocess.h"
#include "store_test_util.h"

namespace weft::test {
namespace {

TEST(StoreScale, ThousandClientsPassBarriers) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  constexpr int kProcesses = 4, kPerProcess = 250, kTotal = kProcesses * kPerProcess, kRounds = 3;
  if (limit.rlim_cur < kTotal + 100) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit.rlim_max;

  auto server = start_server();
  std::vector<Subprocess> workers;
  for (int p = 0; p < kProcesses; ++p)
    workers.push_back(Subprocess::spawn({bin("store_scale_worker"), std::to_string(server->port()),
                                         std::to_string(p * kPerProcess),
                                         std::to_string(kPerProcess), std::to_string(kTotal),
                                         std::to_string(kRounds)}));
  // All 1000 are connected at once, blocked on the gate.
  auto store = TcpStore::connect(client_options(server->port()));
  EXPECT_TRUE(eventually([&] { return server->num_waiters() == kTotal; }, 90s))
      << server->num_clients() << " clients, " << server->num_waiters() << " waiting";
  EXPECT_EQ(server->num_clients(), kTotal + 1);
  store->set("open", std::string_view("1"));
  for (auto& w : workers) {
    auto status = w.wait_for(120s);
    ASSERT_TRUE(status.has_value()) << "worker hung";
    EXPECT_TRUE(status->exited());
    EXPECT_EQ(status->code, 0);
  }
  for (int round = 0; round < kRounds; ++round) {
    EXPECT_EQ(store->get_string(str("r", round, "/count")), std::to_string(kTotal));
    EXPECT_EQ(store->get_string(str("r", round, "/rank", kTotal - 1)), std::to_string(kTotal - 1));
  }
  // rank keys + count + go, per round, and the gate
  EXPECT_EQ(store->num_keys(), kRounds * (kTotal + 2) + 1);
  EXPECT_TRUE(eventually([&] { return server->num_clients() == 1; }));
  EXPECT_EQ(server->num_waiters(), 0u);
}

}  // namespace
}  // namespace weft::test
