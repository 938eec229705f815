// A registration-service worker process (ipc_test_worker service ...) and the
// control channel the test drives it with.
#pragma once

#include <stdexcept>
#include <string>

#include "control.h"
#include "ipc/unix_socket.h"
#include "subprocess.h"

namespace weft::test {

struct ServicePeer {
  std::string address;
  Subprocess proc;
  net::Fd control;

  static ServicePeer start(int rank, const std::string& job = "svc-test") {
    using namespace std::chrono_literals;
    std::string address = ipc::socket_address(job, rank, "reg");
    std::string control = control_address("svc");
    auto listener = ipc::UnixListener::listen(control);
    auto proc = Subprocess::spawn(
        {bin("ipc_test_worker"), "service", address, std::to_string(rank), control});
    if (!ipc::wait_readable(listener.fd(), 20s)) throw std::runtime_error("worker did not connect");
    auto conn = listener.accept();
    ServicePeer p{address, std::move(proc), std::move(*conn)};
    if (recv_text(p.control.get()) != "ready") throw std::runtime_error("worker not ready");
    return p;
  }
  std::string ask(const std::string& cmd) {
    send_text(control.get(), cmd);
    return recv_text(control.get());
  }
};

}  // namespace weft::test
