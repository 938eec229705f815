// weft::cuda::alloc/free, buffer export, CUDA error messages (one process).
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <vector>

#include "../ipc/test_util.h"
#include "cuda/check.h"
#include "cuda/export.h"
#include "weft/cuda.h"

namespace weft::test {
namespace {

class GpuAlloc : public ::testing::Test {
 protected:
  void SetUp() override {
    int n = 0;
    ASSERT_EQ(cudaGetDeviceCount(&n), cudaSuccess) << "no usable CUDA device";
    ASSERT_GT(n, 0);
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  }
};

TEST_F(GpuAlloc, SizesRoundToGranularityAndMemoryWorks) {
  const size_t g = cuda::allocation_granularity(0);
  ASSERT_GT(g, 0u);
  for (size_t bytes : {size_t{1}, g - 1, g, g + 1, size_t{64} << 20}) {
    void* p = cuda::alloc(bytes);
    ASSERT_NE(p, nullptr);
    cuda::ExportedBuffer ex = cuda::export_buffer(p);
    EXPECT_EQ(ex.kind, ipc::HandleKind::PosixFd);
    EXPECT_EQ(ex.base, reinterpret_cast<uintptr_t>(p));
    EXPECT_EQ(ex.size, (bytes + g - 1) / g * g) << bytes;
    EXPECT_EQ(ex.offset, 0u);
    std::vector<unsigned char> in(bytes), out(bytes);
    for (size_t i = 0; i < bytes; ++i) in[i] = static_cast<unsigned char>(i * 7 + 3);
    ASSERT_EQ(cudaMemcpy(p, in.data(), bytes, cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(out.data(), p, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(in, out);
    cuda::free(p);
  }
  cuda::free(nullptr);
}

TEST_F(GpuAlloc, BadArguments) {
  Error e = catch_error([] { cuda::alloc(0); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(e.message(), "cuda::alloc: zero bytes");
  void* p = cuda::alloc(1 << 20);
  char* inside = static_cast<char*>(p) + 4096;
  e = catch_error([&] { cuda::free(inside); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(e.message(), str("cuda::free(", static_cast<void*>(inside),
                             "): not the start of an allocation (it starts at ", p, ")"));
  cuda::free(p);
  void* legacy = nullptr;
  ASSERT_EQ(cudaMalloc(&legacy, 1 << 20), cudaSuccess);
  e = catch_error([&] { cuda::free(legacy); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(e.message(), str("cuda::free(", legacy, "): not memory from weft::cuda::alloc"));
  ASSERT_EQ(cudaFree(legacy), cudaSuccess);
}

TEST_F(GpuAlloc, AllocFreeCyclesReturnTheMemory) {
  size_t free0 = 0, total = 0, free1 = 0;
  cuda::free(cuda::alloc(256 << 20));  // warm up
  ASSERT_EQ(cudaMemGetInfo(&free0, &total), cudaSuccess);
  size_t fds = count_open_fds();
  for (int i = 0; i < 100; ++i) {
    void* p = cuda::alloc(256 << 20);
    cuda::ExportedBuffer ex = cuda::export_buffer(p);  // export + close an fd too
    cuda::free(p);
  }
  ASSERT_EQ(cudaMemGetInfo(&free1, &total), cudaSuccess);
  // Exact equality is usual; allow driver bookkeeping, not one leaked buffer.
  EXPECT_LT(free0 > free1 ? free0 - free1 : 0, size_t{128} << 20) << free0 << " -> " << free1;
  EXPECT_EQ(count_open_fds(), fds);
}

TEST_F(GpuAlloc, CudaMallocExportsThroughLegacyIpc) {
  void* p = nullptr;
  ASSERT_EQ(cudaMalloc(&p, 8 << 20), cudaSuccess);
  cuda::ExportedBuffer ex = cuda::export_buffer(static_cast<char*>(p) + 12345);
  EXPECT_EQ(ex.kind, ipc::HandleKind::CudaLegacyIpc);
  EXPECT_FALSE(ex.fd);
  EXPECT_EQ(ex.base + ex.offset, reinterpret_cast<uintptr_t>(p) + 12345);
  EXPECT_GE(ex.size, size_t{8} << 20);
  ipc::LegacyHandle zero{};
  EXPECT_NE(ex.legacy, zero);
  ASSERT_EQ(cudaFree(p), cudaSuccess);
}

TEST_F(GpuAlloc, HostMemoryCannotBeExported) {
  std::vector<char> host(4096);
  Error e = catch_error([&] { cuda::export_buffer(host.data()); });
  EXPECT_EQ(e.code(), ErrorCode::CudaError);
  EXPECT_TRUE(e.message().starts_with(str("export of device buffer ", static_cast<void*>(host.data()),
                                          ": cuMemGetAddressRange failed: CUDA_ERROR_")))
      << e.message();
}

TEST_F(GpuAlloc, ErrorMessagesNameCallAndCudaError) {
  Error e = catch_error([] { WEFT_CUDART("selecting a device", cudaSetDevice, 12345); });
  EXPECT_EQ(e.code(), ErrorCode::CudaError);
  EXPECT_EQ(e.message(), str("selecting a device: cudaSetDevice failed: cudaErrorInvalidDevice: ",
                             cudaGetErrorString(cudaErrorInvalidDevice)));
  cudaGetLastError();  // clear the runtime's last error
  e = catch_error([] { WEFT_CU("freeing nothing", cuMemAddressFree, CUdeviceptr{4096}, size_t{4096}); });
  EXPECT_EQ(e.code(), ErrorCode::CudaError);
  EXPECT_TRUE(e.message().starts_with("freeing nothing: cuMemAddressFree failed: CUDA_ERROR_"))
      << e.message();
}

}  // namespace
}  // namespace weft::test
