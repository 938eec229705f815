// One process of the 1000-client test: `store_scale_worker PORT FIRST COUNT
// TOTAL ROUNDS` runs COUNT client threads (ranks FIRST..FIRST+COUNT-1), each
// with its own TcpStore connection. Per round every client sets its rank key,
// adds 1 to the round's counter, the client that brings it to TOTAL sets the
// round's "go" key, and everyone waits for "go" (a barrier over all
// processes). Before round 0 everyone waits for the test to set "open".
// Exit code 0 when every client passed every round.
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "weft/error.h"
#include "weft/store.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: store_scale_worker PORT FIRST COUNT TOTAL ROUNDS\n");
    return 2;
  }
  const int port = std::atoi(argv[1]), first = std::atoi(argv[2]), count = std::atoi(argv[3]),
            total = std::atoi(argv[4]), rounds = std::atoi(argv[5]);
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, rank = first + i] {
      try {
        weft::TcpStoreOptions o;
        o.host = "127.0.0.1";
        o.port = static_cast<uint16_t>(port);
        o.timeout = std::chrono::seconds(60);
        o.connect_timeout = std::chrono::seconds(60);
        auto store = weft::TcpStore::connect(o);
        // The test opens the gate once all clients are connected at once.
        std::vector<std::string> gate{"open"};
        store->wait(gate);
        for (int round = 0; round < rounds; ++round) {
          std::string prefix = weft::str("r", round, "/");
          store->set(weft::str(prefix, "rank", rank), std::string_view(std::to_string(rank)));
          if (store->add(prefix + "count", 1) == total)
            store->set(prefix + "go", std::string_view("1"));
          std::vector<std::string> go{prefix + "go"};
          store->wait(go);
          // After the barrier every rank's key of this round must be there.
          std::string peer = weft::str(prefix, "rank", (rank + 1) % total);
          if (store->get_string(peer) != std::to_string((rank + 1) % total)) ++failures;
        }
      } catch (const weft::Error& e) {
        std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  return failures.load() == 0 ? 0 : 1;
}
