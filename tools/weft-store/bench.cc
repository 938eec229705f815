// `weft-store bench`: what job start looks like to the store.
//
// Rendezvous: N client PROCESSES (forked before the server starts, so the
// parent is single-threaded when it forks) are released at once; each
// connects, sets its key, adds 1 to a counter and waits on a barrier key that
// the last arriving client sets. Every child stamps when it finished each
// phase on the machine-wide monotonic clock; the table shows when the
// slowest client finished each phase, counted from the release.
//
// Then get/set/add ops/s from one and several client connections.
#include <linux/futex.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "commands.h"
#include "net/address.h"
#include "net/fd.h"
#include "weft/error.h"

namespace weft::tool {
namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// Parent -> children, in memory shared across fork(). The children sleep on
// a futex and are woken all at once (one wake-up each; a shared pipe would
// wake every reader for every message).
struct Release {
  std::atomic<uint32_t> go{0};
  uint32_t port = 0;
  int64_t t0_ns = 0;
};

void futex_wait_for_go(Release& release) {
  while (release.go.load() == 0)
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&release.go), FUTEX_WAIT, 0, nullptr,
              nullptr, 0);
}

void futex_wake_all(Release& release) {
  release.go.store(1);
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&release.go), FUTEX_WAKE, INT_MAX, nullptr,
            nullptr, 0);
}

struct Report {  // child -> parent
  int64_t woken_ns, connected_ns, set_ns, barrier_ns;
  int32_t ok, index;
};
static_assert(sizeof(Report) <= PIPE_BUF);  // one atomic write per child

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

bool read_full(int fd, void* p, size_t n, int timeout_ms) {
  auto* b = static_cast<uint8_t*>(p);
  size_t done = 0;
  while (done < n) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
    ssize_t r = ::read(fd, b + done, n - done);
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

[[noreturn]] void child_main(int index, int n, const std::string& host, const std::string& token,
                             const std::string& prefix, Release& release, int report_fd) {
  Report report{0, 0, 0, 0, 0, index};
  futex_wait_for_go(release);
  // How long the OS took to run this process after the release: on a small
  // machine with 1000 processes this, not the store, can dominate.
  report.woken_ns = now_ns() - release.t0_ns;
  try {
    TcpStoreOptions options;
    options.host = host;
    options.port = static_cast<uint16_t>(release.port);
    options.timeout = std::chrono::seconds(300);
    options.connect_timeout = std::chrono::seconds(120);
    if (!token.empty()) options.token = token;
    auto store = TcpStore::connect(options);
    report.connected_ns = now_ns() - release.t0_ns;
    store->set(str(prefix, "rank", index), std::string_view("ready"));
    store->num_keys();  // a round trip: the set has been applied
    report.set_ns = now_ns() - release.t0_ns;
    if (store->add(prefix + "count", 1) == n) store->set(prefix + "go", std::string_view("1"));
    std::vector<std::string> barrier{prefix + "go"};
    store->wait(barrier);
    report.barrier_ns = now_ns() - release.t0_ns;
    report.ok = 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench client %d: %s\n", index, e.what());
  }
  [[maybe_unused]] ssize_t w = ::write(report_fd, &report, sizeof report);
  _exit(report.ok ? 0 : 1);
}

struct Row {
  int clients = 0;
  double woken_s = 0, connect_s = 0, set_s = 0, barrier_s = 0, total_s = 0;
  int failed = 0;
};

Row rendezvous(int n, const BenchArgs& args, const std::string& token) {
  int report_pipe[2];
  if (::pipe(report_pipe) != 0) throw_errno("pipe");
  net::Fd report_r(report_pipe[0]), report_w(report_pipe[1]);
  void* shared = ::mmap(nullptr, sizeof(Release), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) throw_errno("mmap");
  Release& release = *new (shared) Release();

  std::string host = "127.0.0.1";
  uint16_t port = 0;
  if (!args.endpoint.empty()) {
    auto endpoint = net::parse_endpoint(args.endpoint);
    host = endpoint.host;
    port = endpoint.port;
  }
  std::string prefix = str("bench/", getpid(), "/", n, "/");
  std::vector<pid_t> children;
  std::fflush(nullptr);
  for (int i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid < 0) throw_errno(str("fork of bench client ", i));
    if (pid == 0) child_main(i, n, host, token, prefix, release, report_w.get());
    children.push_back(pid);
  }
  report_w.reset();

  // The server starts after every fork: the parent was single-threaded then.
  std::unique_ptr<StoreServer> server;
  if (args.endpoint.empty()) {
    StoreServerOptions options;
    options.host = host;
    options.port = 0;
    server = StoreServer::start(options);
    port = server->port();
  }
  release.port = port;
  release.t0_ns = now_ns();
  futex_wake_all(release);

  Row row;
  row.clients = n;
  for (int i = 0; i < n; ++i) {
    Report report{};
    if (!read_full(report_r.get(), &report, sizeof report, 300000)) {
      row.failed += n - i;
      break;
    }
    if (!report.ok) {
      ++row.failed;
      continue;
    }
    row.woken_s = std::max(row.woken_s, report.woken_ns / 1e9);
    row.connect_s = std::max(row.connect_s, report.connected_ns / 1e9);
    row.set_s = std::max(row.set_s, report.set_ns / 1e9);
    row.barrier_s = std::max(row.barrier_s, report.barrier_ns / 1e9);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  row.total_s = (now_ns() - release.t0_ns) / 1e9;
  ::munmap(shared, sizeof(Release));
  return row;
}

// Runs `threads` connections doing `op` for `seconds`; returns ops/s.
template <typename Op>
double measure(const std::vector<std::unique_ptr<TcpStore>>& stores, double seconds, Op op) {
  std::atomic<bool> stop{false};
  std::vector<long> counts(stores.size(), 0);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (size_t t = 0; t < stores.size(); ++t)
    threads.emplace_back([&, t] {
      long i = 0;
      while (!stop.load(std::memory_order_relaxed)) op(*stores[t], t, i++);
      stores[t]->num_keys();  // drain: every pipelined request has been served
      counts[t] = i;
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : threads) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  long total = 0;
  for (long c : counts) total += c;
  return total / elapsed;
}

void ops_per_second(const BenchArgs& args, const std::string& token) {
  std::unique_ptr<StoreServer> server;
  TcpStoreOptions options;
  if (args.endpoint.empty()) {
    StoreServerOptions server_options;
    server_options.host = "127.0.0.1";
    server_options.port = 0;
    server = StoreServer::start(server_options);
    options.port = server->port();
  } else {
    auto endpoint = net::parse_endpoint(args.endpoint);
    options.host = endpoint.host;
    options.port = endpoint.port;
  }
  if (!token.empty()) options.token = token;
  std::printf("\n%-8s %14s %14s %14s\n", "conns", "set ops/s", "get ops/s", "add ops/s");
  const Bytes value(64, 'v');
  for (int c : args.ops_clients) {
    std::vector<std::unique_ptr<TcpStore>> stores;
    for (int i = 0; i < c; ++i) stores.push_back(TcpStore::connect(options));
    auto key = [](size_t t, long i) { return str("ops/", t, "/", i % 256); };
    double set_rate = measure(stores, args.ops_seconds,
                              [&](TcpStore& s, size_t t, long i) { s.set(key(t, i), value); });
    double get_rate =
        measure(stores, args.ops_seconds, [&](TcpStore& s, size_t t, long i) { s.get(key(t, i)); });
    double add_rate = measure(stores, args.ops_seconds,
                              [&](TcpStore& s, size_t t, long) { s.add(str("ops/count", t), 1); });
    std::printf("%-8d %14.0f %14.0f %14.0f\n", c, set_rate, get_rate, add_rate);
    std::fflush(stdout);
  }
}

}  // namespace

int bench(const BenchArgs& args) {
  raise_fd_limit();
  std::string token = args.token_file.empty() ? "" : read_token_file(args.token_file);
  std::printf("weft-store bench: %s server; times are from the release of all clients until\n"
              "the slowest one finished each phase: woken = its process ran, connect = TCP +\n"
              "VALIDATE + PING, set = SET + a round trip, barrier = ADD + WAIT released;\n"
              "total includes reaping the processes.\n\n",
              args.endpoint.empty() ? "embedded" : args.endpoint.c_str());
  std::printf("%-8s %10s %11s %10s %11s %10s %7s\n", "clients", "woken(s)", "connect(s)",
              "set(s)", "barrier(s)", "total(s)", "failed");
  int failures = 0;
  for (int n : args.clients) {
    WEFT_REQUIRE(n > 0, "--clients values must be positive");
    Row row = rendezvous(n, args, token);
    std::printf("%-8d %10.3f %11.3f %10.3f %11.3f %10.3f %7d\n", row.clients, row.woken_s,
                row.connect_s, row.set_s, row.barrier_s, row.total_s, row.failed);
    std::fflush(stdout);
    failures += row.failed;
  }
  std::printf("\nset = pipelined SET then one round trip; get = WAIT + GET (2 round trips, as\n"
              "torch's client does); add = 1 round trip. 64-byte values.\n");
  ops_per_second(args, token);
  return failures == 0 ? 0 : 1;
}

}  // namespace weft::tool
