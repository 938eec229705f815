// GPU worker for the gpu ipc tests: a registration service with the CUDA
// mapper, driven over a control socket (kernel-free: only cudaMemcpy).
//
//   gpu_ipc_worker service <service-address> <rank> <device> <control>
//     "fill <hex addr> <len> <byte>"  copy <len> bytes of <byte> from host to addr
//     "sum <hex addr> <len>"          copy addr to host, answer the byte sum
//     "live"                          mappings held
//     "exit"
#include <cuda_runtime_api.h>

#include <iostream>
#include <sstream>
#include <vector>

#include "../ipc/control.h"
#include "cuda/cuda_mapper.h"
#include "ipc/registration_service.h"

using namespace weft;

namespace {

std::string cuda_error(cudaError_t e) { return std::string("error: ") + cudaGetErrorName(e); }

int service(const std::string& address, int rank, int device, const std::string& control) {
  if (cudaSetDevice(device) != cudaSuccess) return 3;
  cuda::CudaMapper mapper(device);
  ipc::RegistrationService svc(address, rank, mapper);
  net::Fd sock = ipc::connect_unix(control, std::chrono::seconds(20));
  test::send_text(sock.get(), "ready");
  for (;;) {
    std::string cmd = test::recv_text(sock.get(), std::chrono::milliseconds(-1));
    std::istringstream in(cmd);
    std::string op, addr;
    in >> op;
    if (op == "<eof>" || op == "exit") break;
    if (op == "fill") {
      size_t len = 0;
      int byte = 0;
      in >> addr >> len >> byte;
      std::vector<unsigned char> host(len, static_cast<unsigned char>(byte));
      cudaError_t e = cudaMemcpy(reinterpret_cast<void*>(test::parse_hex(addr)), host.data(), len,
                                 cudaMemcpyDefault);
      test::send_text(sock.get(), e == cudaSuccess ? "ok" : cuda_error(e));
    } else if (op == "sum") {
      size_t len = 0;
      in >> addr >> len;
      std::vector<unsigned char> host(len);
      cudaError_t e = cudaMemcpy(host.data(), reinterpret_cast<void*>(test::parse_hex(addr)), len,
                                 cudaMemcpyDefault);
      uint64_t sum = 0;
      for (unsigned char c : host) sum += c;
      test::send_text(sock.get(), e == cudaSuccess ? std::to_string(sum) : cuda_error(e));
    } else if (op == "live") {
      test::send_text(sock.get(), std::to_string(svc.live_mappings()));
    } else {
      test::send_text(sock.get(), "unknown command: " + cmd);
    }
  }
  svc.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 6 && std::string(argv[1]) == "service")
      return service(argv[2], std::stoi(argv[3]), std::stoi(argv[4]), argv[5]);
    std::cerr << "usage: gpu_ipc_worker service <address> <rank> <device> <control>\n";
    return 64;
  } catch (const std::exception& e) {
    std::cerr << "gpu_ipc_worker: " << e.what() << "\n";
    return 1;
  }
}
