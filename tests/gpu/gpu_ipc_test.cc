// Device buffers exported by this process and mapped by another one through
// its registration service (CUDA mapper), checked with cudaMemcpy across the
// peer's mapped pointer (no kernels). With two or more GPUs the peer uses
// device 1, so the mapping crosses GPUs; with one GPU both use device 0.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <numeric>
#include <vector>

#include "../ipc/control.h"
#include "../ipc/test_util.h"
#include "cuda/cuda_exporter.h"
#include "cuda/cuda_mapper.h"
#include "cuda/export.h"
#include "ipc/registration_client.h"
#include "ipc/registration_service.h"
#include "register/registrar.h"
#include "subprocess.h"
#include "weft/cuda.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

struct GpuPeer {
  std::string address;
  Subprocess proc;
  net::Fd control;

  static GpuPeer start(int rank, int device) {
    std::string address = ipc::socket_address("gpu-ipc-test", rank, "reg");
    std::string control = control_address("gpu");
    auto listener = ipc::UnixListener::listen(control);
    auto proc = Subprocess::spawn({bin("gpu_ipc_worker"), "service", address, std::to_string(rank),
                                   std::to_string(device), control});
    if (!ipc::wait_readable(listener.fd(), 60s)) throw std::runtime_error("gpu worker did not connect");
    GpuPeer p{address, std::move(proc), std::move(*listener.accept())};
    if (recv_text(p.control.get(), 60s) != "ready") throw std::runtime_error("gpu worker not ready");
    return p;
  }
  std::string ask(const std::string& cmd) {
    send_text(control.get(), cmd);
    return recv_text(control.get(), 60s);
  }
};

class GpuIpc : public ::testing::Test {
 protected:
  void SetUp() override {
    int n = 0;
    ASSERT_EQ(cudaGetDeviceCount(&n), cudaSuccess) << "no usable CUDA device";
    ASSERT_GT(n, 0);
    peer_device_ = n > 1 ? 1 : 0;
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  }
  int peer_device_ = 0;

  // Registers [buf + offset, +len) at the peer, checks both directions, releases.
  void round_trip(void* buf, size_t bytes, size_t offset, ipc::HandleKind expect_kind) {
    std::vector<unsigned char> host(bytes);
    for (size_t i = 0; i < bytes; ++i) host[i] = static_cast<unsigned char>((i * 13) % 241);
    ASSERT_EQ(cudaMemcpy(buf, host.data(), bytes, cudaMemcpyHostToDevice), cudaSuccess);

    GpuPeer peer = GpuPeer::start(1, peer_device_);
    ipc::RegistrationClient client(peer.address, 0, 1, 60s);
    cuda::ExportedBuffer ex = cuda::export_buffer(static_cast<char*>(buf) + offset);
    ASSERT_EQ(ex.kind, expect_kind);
    ipc::RemoteMapping m = client.import(ex.desc());
    EXPECT_EQ(peer.ask("live"), "1");

    // The peer reads our bytes through its own address for them.
    const size_t len = 1 << 16;
    uint64_t want = std::accumulate(host.begin() + offset, host.begin() + offset + len, uint64_t{0});
    EXPECT_EQ(peer.ask("sum " + hex(m.address) + " " + std::to_string(len)), std::to_string(want));
    // And writes: we see the bytes land exactly there.
    EXPECT_EQ(peer.ask("fill " + hex(m.address + 32) + " 1000 201"), "ok");
    std::vector<unsigned char> back(bytes);
    ASSERT_EQ(cudaMemcpy(back.data(), buf, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    for (size_t i = 0; i < bytes; ++i) {
      bool filled = i >= offset + 32 && i < offset + 1032;
      ASSERT_EQ(back[i], filled ? 201 : host[i]) << "byte " << i;
    }

    client.release(m.id);
    EXPECT_EQ(peer.ask("live"), "0");
    EXPECT_EQ(peer.ask("exit"), "<eof>");
    auto st = peer.proc.wait_for(60s);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->code, 0);
  }
};

TEST_F(GpuIpc, CuMemBufferThroughPosixFd) {
  constexpr size_t kBytes = 4 << 20;
  void* buf = cuda::alloc(kBytes);
  round_trip(buf, kBytes, 3 * 4096 + 64, ipc::HandleKind::PosixFd);
  cuda::free(buf);
}

TEST_F(GpuIpc, CudaMallocBufferThroughLegacyIpc) {
  constexpr size_t kBytes = 4 << 20;
  void* buf = nullptr;
  ASSERT_EQ(cudaMalloc(&buf, kBytes), cudaSuccess);
  round_trip(buf, kBytes, 12345, ipc::HandleKind::CudaLegacyIpc);
  ASSERT_EQ(cudaFree(buf), cudaSuccess);
}

TEST_F(GpuIpc, DeadPeerIsPeerLost) {
  void* buf = cuda::alloc(1 << 20);
  GpuPeer peer = GpuPeer::start(1, peer_device_);
  ipc::RegistrationClient client(peer.address, 0, 1, 60s);
  cuda::ExportedBuffer ex = cuda::export_buffer(buf);
  client.import(ex.desc());
  peer.proc.kill(SIGKILL);
  ASSERT_TRUE(peer.proc.wait_for(30s).has_value());
  auto t0 = std::chrono::steady_clock::now();
  Error e = catch_error([&] { client.import(ex.desc()); });
  EXPECT_EQ(e.code(), ErrorCode::PeerLost);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  cuda::free(buf);
}

// The registrar with the CUDA exporter: both buffer kinds, reuse, and a
// buffer freed and reallocated at the same address is a fresh registration.
TEST_F(GpuIpc, RegistrarWithCudaExporter) {
  GpuPeer peer = GpuPeer::start(1, peer_device_);
  cuda::CudaExporter exporter;
  reg::Registrar registrar(0, exporter, {{1, peer.address}}, 60s);

  void* a = cuda::alloc(2 << 20);
  void* b = nullptr;
  ASSERT_EQ(cudaMalloc(&b, 2 << 20), cudaSuccess);
  for (void* buf : {a, b}) {
    std::vector<unsigned char> host(1 << 20, 0);
    for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<unsigned char>(i % 199);
    ASSERT_EQ(cudaMemcpy(buf, host.data(), host.size(), cudaMemcpyHostToDevice), cudaSuccess);
    char* inner = static_cast<char*>(buf) + 4096;
    auto h = registrar.register_buffer(inner, 1000);
    EXPECT_EQ(registrar.register_buffer(buf, 16), h);  // same allocation: reused
    uint64_t want = std::accumulate(host.begin() + 4096, host.begin() + 5096, uint64_t{0});
    EXPECT_EQ(peer.ask("sum " + hex(registrar.peer_address(h, 1, inner)) + " 1000"), std::to_string(want));
    EXPECT_EQ(peer.ask("live"), "1");
    registrar.deregister(h);
    registrar.deregister(h);
    EXPECT_EQ(peer.ask("live"), "0");
  }
  // Registered, freed without deregistering, reallocated: must not reuse.
  auto h1 = registrar.register_buffer(a, 4096);
  cuda::free(a);
  void* a2 = cuda::alloc(2 << 20);
  if (a2 == a) {
    auto h2 = registrar.register_buffer(a2, 4096);
    EXPECT_NE(h2, h1);
    registrar.deregister(h2);
  }
  registrar.deregister(h1);
  EXPECT_EQ(peer.ask("live"), "0");
  cuda::free(a2);
  ASSERT_EQ(cudaFree(b), cudaSuccess);
}

// Import/release cycles in one process (the service imports our own fd):
// no descriptor and no device memory may leak.
TEST_F(GpuIpc, ImportReleaseCyclesLeakNothing) {
  cuda::CudaMapper mapper(0);
  ipc::RegistrationService svc(ipc::socket_address("gpu-leak", 1, "reg"), 1, mapper);
  ipc::RegistrationClient client(svc.address(), 0, 1, 60s);
  void* buf = cuda::alloc(64 << 20);
  auto cycle = [&] {
    cuda::ExportedBuffer ex = cuda::export_buffer(buf);
    auto m = client.import(ex.desc());
    client.release(m.id);
  };
  cycle();
  size_t free0 = 0, free1 = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free0, &total), cudaSuccess);
  size_t fds = count_open_fds();
  for (int i = 0; i < 200; ++i) cycle();
  ASSERT_EQ(cudaMemGetInfo(&free1, &total), cudaSuccess);
  EXPECT_EQ(count_open_fds(), fds);
  EXPECT_LT(free0 > free1 ? free0 - free1 : 0, size_t{64} << 20) << free0 << " -> " << free1;
  EXPECT_EQ(svc.live_mappings(), 0u);
  cuda::free(buf);
}

}  // namespace
}  // namespace weft::test
