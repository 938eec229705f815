// Worker process for the ipc tests (real processes, not threads):
//
//   ipc_test_worker recv-fds <control>
//       receives a memfd and a pipe's write end, writes a text through the
//       mmapped memfd and into the pipe, answers "done".
//   ipc_test_worker service <service-address> <rank> <control>
//       runs a RegistrationService with the CPU mapper and serves commands:
//       "write <hex addr> <len> <byte>", "sum <hex addr> <len>",
//       "mapped <hex addr>", "live", "exit".
//   ipc_test_worker client <service-address> <rank> <peer-rank>
//       exports a 64 KiB memfd to that service, prints "imported <id> <hex
//       addr>" and waits to be killed.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "control.h"
#include "ipc/registration_client.h"
#include "ipc/registration_service.h"
#include "weft/error.h"

using namespace weft;

namespace {

bool is_mapped(uintptr_t addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash;
    std::istringstream in(line);
    in >> std::hex >> lo >> dash >> hi;
    if (addr >= lo && addr < hi) return true;
  }
  return false;
}

int recv_fds(const std::string& control) {
  net::Fd sock = ipc::connect_unix(control, std::chrono::seconds(10));
  auto msg = ipc::recv_message(sock.get(), 4096, std::chrono::seconds(20));
  if (!msg || msg->fds.size() != 2) return 2;
  std::string text(reinterpret_cast<const char*>(msg->payload.data()), msg->payload.size());
  size_t size = 0, offset = 0;
  std::string word;
  std::istringstream in(text);
  in >> size >> offset >> word;
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, msg->fds[0].get(), 0);
  if (p == MAP_FAILED) return 3;
  std::memcpy(static_cast<char*>(p) + offset, word.data(), word.size());
  ::munmap(p, size);
  std::string piped = "via-pipe:" + word;
  if (::write(msg->fds[1].get(), piped.data(), piped.size()) != static_cast<ssize_t>(piped.size())) return 4;
  test::send_text(sock.get(), "done");
  return 0;
}

int service(const std::string& address, int rank, const std::string& control) {
  ipc::CpuMapper mapper;
  ipc::RegistrationService svc(address, rank, mapper);
  net::Fd sock = ipc::connect_unix(control, std::chrono::seconds(10));
  test::send_text(sock.get(), "ready");
  for (;;) {
    std::string cmd = test::recv_text(sock.get(), std::chrono::milliseconds(-1));
    std::istringstream in(cmd);
    std::string op, addr;
    in >> op;
    if (op == "<eof>" || op == "exit") break;
    if (op == "write") {
      size_t len = 0;
      int byte = 0;
      in >> addr >> len >> byte;
      std::memset(reinterpret_cast<void*>(test::parse_hex(addr)), byte, len);
      test::send_text(sock.get(), "ok");
    } else if (op == "sum") {
      size_t len = 0;
      in >> addr >> len;
      const auto* p = reinterpret_cast<const unsigned char*>(test::parse_hex(addr));
      uint64_t sum = 0;
      for (size_t i = 0; i < len; ++i) sum += p[i];
      test::send_text(sock.get(), std::to_string(sum));
    } else if (op == "mapped") {
      in >> addr;
      test::send_text(sock.get(), is_mapped(test::parse_hex(addr)) ? "yes" : "no");
    } else if (op == "live") {
      test::send_text(sock.get(), std::to_string(svc.live_mappings()));
    } else {
      test::send_text(sock.get(), "unknown command: " + cmd);
    }
  }
  svc.stop();
  return 0;
}

int client(const std::string& address, int rank, int peer_rank) {
  constexpr size_t kSize = 64 << 10;
  net::Fd memfd(::memfd_create("weft-test-client", MFD_CLOEXEC));
  if (!memfd || ::ftruncate(memfd.get(), kSize) != 0) return 2;
  ipc::RegistrationClient c(address, rank, peer_rank, std::chrono::seconds(10));
  auto m = c.import({ipc::HandleKind::PosixFd, memfd.get(), kSize, 0, {}});
  std::cout << "imported " << m.id << " " << test::hex(m.address) << std::endl;
  for (;;) ::pause();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "recv-fds" && argc == 3) return recv_fds(argv[2]);
    if (mode == "service" && argc == 5) return service(argv[2], std::stoi(argv[3]), argv[4]);
    if (mode == "client" && argc == 5) return client(argv[2], std::stoi(argv[3]), std::stoi(argv[4]));
    std::cerr << "usage: see the comment at the top of ipc_test_worker.cc\n";
    return 64;
  } catch (const std::exception& e) {
    std::cerr << "ipc_test_worker: " << e.what() << "\n";
    return 1;
  }
}
