#include "machine_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <thread>

#include "weft/error.h"

namespace weft::perf {
namespace {

using Clock = std::chrono::steady_clock;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// A page-aligned, pre-faulted buffer.
std::unique_ptr<char, FreeDeleter> make_buffer(std::size_t bytes, int fill) {
  std::size_t rounded = (bytes + 4095) / 4096 * 4096;
  char* p = static_cast<char*>(std::aligned_alloc(4096, rounded));
  if (p == nullptr) throw_errno("allocating a limits buffer");
  std::memset(p, fill, rounded);
  return std::unique_ptr<char, FreeDeleter>(p);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Timing {
  double seconds = 0;    // median wall time of one run
  double cpu_share = 0;  // this thread's CPU time / wall time over all timed runs
};

template <typename F>
Timing median_seconds(int runs, F&& f) {
  f();  // one untimed run: first touch of the cache hierarchy / TLB
  std::vector<double> t;
  double cpu0 = thread_cpu_seconds();
  auto w0 = Clock::now();
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  double wall = std::chrono::duration<double>(Clock::now() - w0).count();
  return {median(std::move(t)), wall > 0 ? (thread_cpu_seconds() - cpu0) / wall : 0};
}

// Keeps the compiler from dropping a loop whose result is otherwise unused.
void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

LimitFigure figure(std::string name, std::size_t bytes, int runs, Timing t,
                   double traffic_factor, std::string note) {
  LimitFigure f;
  f.name = std::move(name);
  f.bytes = bytes;
  f.runs = runs;
  f.seconds = t.seconds;
  f.cpu_share = t.cpu_share;
  f.payload_gbs = bytes / t.seconds / 1e9;
  f.traffic_gbs = f.payload_gbs * traffic_factor;
  f.note = std::move(note);
  return f;
}

void send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) throw_errno("tcp loopback: send");
    p += k;
    n -= static_cast<std::size_t>(k);
  }
}

// The receiver, in a forked child: only async-signal-safe calls, then _exit.
[[noreturn]] void receiver(int listen_fd, char* buf, std::size_t chunk, std::size_t bytes,
                           int runs) {
  int fd = ::accept(listen_fd, nullptr, nullptr);
  if (fd < 0) _exit(3);
  for (int r = 0; r < runs + 1; ++r) {
    std::size_t left = bytes;
    while (left > 0) {
      ssize_t k = ::recv(fd, buf, std::min(chunk, left), 0);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) _exit(4);
      left -= static_cast<std::size_t>(k);
    }
    char ack = 1;
    if (::send(fd, &ack, 1, MSG_NOSIGNAL) != 1) _exit(5);
  }
  ::close(fd);
  _exit(0);
}

}  // namespace

std::vector<LimitFigure> measure_memory_bandwidth(std::size_t bytes, int runs) {
  WEFT_REQUIRE(bytes >= 4096 && runs >= 1, "limits: need bytes >= 4096 and runs >= 1");
  bytes = bytes / sizeof(float) * sizeof(float);
  auto a = make_buffer(bytes, 1);
  auto b = make_buffer(bytes, 2);
  std::vector<LimitFigure> out;

  Timing copy_s = median_seconds(runs, [&] {
    std::memcpy(a.get(), b.get(), bytes);
    escape(a.get());
  });
  out.push_back(figure(kMemcpy, bytes, runs, copy_s, 2.0, "reads N, writes N"));

  // Integer-valued floats: no denormals, no infinities, whatever the run count.
  auto* fa = reinterpret_cast<float*>(a.get());
  auto* fb = reinterpret_cast<float*>(b.get());
  const std::size_t n = bytes / sizeof(float);
  std::fill(fa, fa + n, 0.0f);
  std::fill(fb, fb + n, 1.0f);
  Timing add_s = median_seconds(runs, [&] {
    for (std::size_t i = 0; i < n; ++i) fa[i] += fb[i];
    escape(fa);
  });
  out.push_back(figure("a+=b f32", bytes, runs, add_s, 3.0, "reads 2N, writes N"));
  return out;
}

LimitFigure measure_concurrent_memcpy(int threads, std::size_t bytes, int runs) {
  WEFT_REQUIRE(threads >= 1 && bytes >= 4096 && runs >= 1,
               "limits: need threads >= 1, bytes >= 4096 and runs >= 1");
  // Each thread allocates and touches its own buffers (its NUMA node's
  // memory), then all copy at once, runs + 1 times (the first untimed); the
  // wall time of a run ends with its slowest thread.
  std::barrier sync(threads + 1);
  std::vector<std::thread> workers;
  std::vector<double> cpu(static_cast<std::size_t>(threads), 0);
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto a = make_buffer(bytes, 1);
      auto b = make_buffer(bytes, 2);
      double cpu0 = 0;
      for (int r = 0; r <= runs; ++r) {
        sync.arrive_and_wait();  // start together
        if (r == 1) cpu0 = thread_cpu_seconds();
        std::memcpy(a.get(), b.get(), bytes);
        escape(a.get());
        sync.arrive_and_wait();  // the run ends with the last
      }
      cpu[static_cast<std::size_t>(t)] = thread_cpu_seconds() - cpu0;
    });
  std::vector<double> seconds;
  auto first_timed = Clock::now();
  for (int r = 0; r <= runs; ++r) {
    sync.arrive_and_wait();
    auto t0 = Clock::now();
    if (r == 1) first_timed = t0;
    sync.arrive_and_wait();
    if (r >= 1) seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  for (auto& w : workers) w.join();
  const double wall = std::chrono::duration<double>(Clock::now() - first_timed).count();
  double cpu_total = 0;
  for (double c : cpu) cpu_total += c;
  // A thread's share: n x bytes moved in the run's wall time, over n.
  Timing timing{median(std::move(seconds)), wall > 0 ? cpu_total / threads / wall : 0};
  return figure(kMemcpyShared, bytes, runs, timing, 2.0,
                str(threads, " threads at once, each its own buffers; one thread's share"));
}

LimitFigure measure_tcp_loopback(std::size_t bytes, int runs) {
  WEFT_REQUIRE(bytes >= 1 && runs >= 1, "limits: need bytes >= 1 and runs >= 1");
  const std::size_t chunk = std::min<std::size_t>(bytes, std::size_t(4) << 20);
  auto buf = make_buffer(chunk, 7);

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) throw_errno("tcp loopback: socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(lfd, 1) != 0 ||
      ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(lfd);
    throw_system_error("tcp loopback: listen on 127.0.0.1", err);
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(lfd);
    throw_system_error("tcp loopback: fork", err);
  }
  if (pid == 0) receiver(lfd, buf.get(), chunk, bytes, runs);
  ::close(lfd);

  // Reaps the receiver whatever happens below.
  struct Reaper {
    pid_t pid;
    bool done = false;
    ~Reaper() {
      if (done) return;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{pid};

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("tcp loopback: socket");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw_errno("tcp loopback: connect");
  }
  auto one_run = [&] {
    for (std::size_t sent = 0; sent < bytes; sent += chunk) {
      send_all(fd, buf.get(), std::min(chunk, bytes - sent));
    }
    char ack = 0;
    ssize_t k;
    do {
      k = ::recv(fd, &ack, 1, 0);
    } while (k < 0 && errno == EINTR);
    if (k != 1) throw_error(ErrorCode::PeerLost, "tcp loopback: the receiver went away");
  };
  Timing s = median_seconds(runs, one_run);
  int status = 0;
  ::waitpid(pid, &status, 0);
  reaper.done = true;
  WEFT_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
               "tcp loopback: the receiver failed (status ", status, ")");
  return figure("tcp loopback", bytes, runs, s, 1.0,
                "one stream, sender and receiver processes, default socket buffers");
}

std::vector<LimitFigure> measure_limits(int ranks) {
  auto v = measure_memory_bandwidth();
  if (ranks > 1) v.push_back(measure_concurrent_memcpy(ranks));
  v.push_back(measure_tcp_loopback());
  return v;
}

const LimitFigure* find_figure(const std::vector<LimitFigure>& figures, const std::string& name) {
  for (const auto& f : figures)
    if (f.name == name) return &f;
  return nullptr;
}

double min_traffic_per_byte(Collective c, int nranks) {
  const double n = std::max(nranks, 1);
  switch (c) {
    case Collective::allreduce:
    case Collective::reduce: return (3 * n - 1) / n;
    case Collective::reduce_scatter: return (n + 1) / n;
    default: return 2;
  }
}

double bound_algbw_gbs(Collective c, int nranks, double copy_traffic_gbs) {
  return copy_traffic_gbs / min_traffic_per_byte(c, nranks);
}

void print_limits(std::ostream& out, const std::vector<LimitFigure>& figures) {
  out << "# limits of this machine (single core / single stream, and n cores copying at once; medians)\n";
  out << "# traffic = bytes read + bytes written by the program; payload = buffer bytes\n";
  char line[256];
  std::snprintf(line, sizeof(line), "# %-14s %10s %5s %10s %12s %12s %5s  %s\n", "what", "bytes",
                "runs", "time (ms)", "payload GB/s", "traffic GB/s", "cpu", "counts");
  out << line;
  for (const auto& f : figures) {
    std::snprintf(line, sizeof(line), "  %-14s %10zu %5d %10.2f %12.2f %12.2f %4.0f%%  %s\n",
                  f.name.c_str(), f.bytes, f.runs, f.seconds * 1e3, f.payload_gbs, f.traffic_gbs,
                  f.cpu_share * 100, f.note.c_str());
    out << line;
  }
}

}  // namespace weft::perf
