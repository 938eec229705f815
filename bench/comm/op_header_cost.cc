// What the per-operation header (the 24 bytes that let ranks detect
// mismatched collectives) costs: ping-pong latency over two socket
// transports on loopback, with the header on every message vs. never,
// in alternating blocks so that machine noise hits both alike.
//
//   bench_op_header_cost [iterations-per-block] [blocks] [bytes]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "coll/op_desc.h"
#include "transport/socket/socket_transport.h"

using namespace weft;
using namespace weft::transport;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int blocks = argc > 2 ? std::atoi(argv[2]) : 10;
  const size_t bytes = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 8;
  auto l0 = net::Listener::listen("127.0.0.1", 0, 8);
  auto l1 = net::Listener::listen("127.0.0.1", 0, 8);
  std::vector<PeerAddress> endpoints = {{"127.0.0.1", l0.port()}, {"127.0.0.1", l1.port()}};
  auto fmt = [](const OpHeader& h) { return coll::OpDesc::from_header(h).describe(); };
  SocketOptions o;
  o.nsocks = 1;
  SocketTransport t0(0, 2, fmt, 7, std::move(l0), endpoints, o);
  SocketTransport t1(1, 2, fmt, 7, std::move(l1), endpoints, o);
  coll::OpDesc desc;
  desc.kind = coll::OpKind::allreduce;
  desc.count = bytes / 4;
  std::vector<char> a(bytes), b(bytes);
  uint64_t tag = 1;
  std::vector<double> with, without;
  for (int block = 0; block < 2 * blocks; ++block) {
    const bool header = block % 2 == 0;
    const uint64_t first = tag;
    std::thread echo([&] {
      for (int i = 0; i < iters; ++i) {
        OpHeader h = desc.header();
        t1.irecv(0, first + i, b.data(), bytes, header ? &h : nullptr)
            ->wait_until(Clock::now() + std::chrono::seconds(30));
        t1.isend(0, first + i, b.data(), bytes, header ? &h : nullptr)
            ->wait_until(Clock::now() + std::chrono::seconds(30));
      }
    });
    auto start = Clock::now();
    for (int i = 0; i < iters; ++i, ++tag) {
      OpHeader h = desc.header();
      auto r = t0.irecv(1, tag, a.data(), bytes, header ? &h : nullptr);
      t0.isend(1, tag, a.data(), bytes, header ? &h : nullptr)
          ->wait_until(Clock::now() + std::chrono::seconds(30));
      r->wait_until(Clock::now() + std::chrono::seconds(30));
    }
    double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / iters;
    echo.join();
    (header ? with : without).push_back(us / 2);  // one-way
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("one-way latency, %zu-byte messages, median of %d blocks x %d round trips:\n", bytes,
              blocks, iters);
  std::printf("  with op header:    %.2f us\n", median(with));
  std::printf("  without op header: %.2f us\n", median(without));
  std::printf("  header cost:       %.2f us (%.1f %%)\n", median(with) - median(without),
              100 * (median(with) - median(without)) / median(without));
  return 0;
}
