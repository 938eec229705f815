// N communicators of one process over the in-process transport, for tests of
// algorithms and of the communicator's failure handling without sockets.
#pragma once

#include <functional>
#include <thread>
#include <vector>

#include "coll/op_desc.h"
#include "comm/comm_impl.h"
#include "transport/local/local_transport.h"
#include "transport/socket/socket_transport.h"
#include "weft/communicator.h"

namespace weft::test {

inline std::vector<Communicator> make_local_group(int n, CommConfig config = {}) {
  auto hub = transport::LocalHub::create(n);
  std::vector<Communicator> comms;
  for (int r = 0; r < n; ++r) {
    auto t = hub->make(r, [](const transport::OpHeader& h) {
      return coll::OpDesc::from_header(h).describe();
    });
    comms.emplace_back(std::make_shared<Communicator::Impl>(std::move(t), config));
  }
  return comms;
}

// N communicators of one process over real loopback sockets (no store: the
// listeners are made first and their addresses handed to every transport).
inline std::vector<Communicator> make_socket_group(int n, CommConfig config = {},
                                                   transport::SocketOptions options = {}) {
  std::vector<net::Listener> listeners;
  std::vector<transport::PeerAddress> endpoints(n);
  for (int r = 0; r < n; ++r) {
    listeners.push_back(net::Listener::listen("127.0.0.1", 0, 64));
    endpoints[r] = {"127.0.0.1", listeners.back().port()};
  }
  std::vector<Communicator> comms;
  for (int r = 0; r < n; ++r) {
    auto t = std::make_unique<transport::SocketTransport>(
        r, n,
        [](const transport::OpHeader& h) { return coll::OpDesc::from_header(h).describe(); },
        0x1234, std::move(listeners[r]), endpoints, options);
    comms.emplace_back(std::make_shared<Communicator::Impl>(std::move(t), config));
  }
  return comms;
}

// Runs body(rank) on one thread per rank and joins them.
inline void run_ranks(int n, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) threads.emplace_back([&, r] { body(r); });
  for (auto& t : threads) t.join();
}

}  // namespace weft::test
