// Point-to-point: the sender stages chunks in its outbox for the receiver and
// raises a "data" flag; the receiver pulls them and raises a "consumed" flag.
// Two outbox halves per peer pair, so the sender reuses a half only after the
// receiver acknowledged the step two back. As in the collectives, each block
// owns a fixed region of each half, so its flags cover exactly its bytes. Send and recv epochs are per peer
// and per block, separate from the collective epochs (only two ranks take
// part).
#include "coll/gpu/coll_kernel.cuh"
#include "weft/error.h"

namespace weft::gpu {
namespace device {

// This block's region of the outbox half that `owner` fills for `receiver` at `step`.
__device__ __forceinline__ char* outbox(const PeerView& v, int owner, int receiver, uint64_t step) {
  return v.scratch[owner] + kP2POffset + (size_t(receiver) * 2 + (step & 1)) * kP2PHalfBytes +
         blockIdx.x * block_region(kP2PHalfBytes);
}

// Bytes one step moves: every block's region.
__device__ __forceinline__ size_t p2p_step_bytes() { return block_region(kP2PHalfBytes) * gridDim.x; }

__device__ __forceinline__ uint64_t* flags_of(const PeerView& v, int rank) {
  return reinterpret_cast<uint64_t*>(v.scratch[rank]);
}

__global__ void __launch_bounds__(kThreads) send_kernel(P2PArgs a) {
  __shared__ int s_aborted;
  uint64_t* epoch_slot = a.view.epochs + kMaxBlocks + size_t(a.peer) * kMaxBlocks + blockIdx.x;
  if (threadIdx.x == 0) s_aborted = 0;
  uint64_t step = *epoch_slot;
  const int me = a.view.rank;
  const char* src = static_cast<const char*>(a.buf);
  const size_t step_bytes = p2p_step_bytes();
  for (size_t base = 0; base < a.bytes; base += step_bytes) {
    const size_t len = min(step_bytes, a.bytes - base);
    size_t lo, hi;
    block_share<uint8_t>(len, &lo, &hi);
    const uint64_t e = step + 1;
    if (threadIdx.x == 0 && e > 2) {
      // the half we are about to fill was consumed two steps ago
      const uint64_t* ack = flags_of(a.view, me) + flag_index(FlagKind::p2p_ack, a.peer, blockIdx.x);
      if (!wait_flag(ack, e - 2, a.view.abort_flag)) s_aborted = 1, *a.view.status = kStatusAborted;
    }
    __syncthreads();
    if (s_aborted) break;
    copy_range(reinterpret_cast<uint8_t*>(outbox(a.view, me, a.peer, e)),
               reinterpret_cast<const uint8_t*>(src) + base + lo, hi - lo, a.vec != 0);
    __syncthreads();
    if (threadIdx.x == 0) {
      __threadfence_system();
      st_release_sys(flags_of(a.view, a.peer) + flag_index(FlagKind::p2p_data, me, blockIdx.x), e);
    }
    step = e;
  }
  __syncthreads();
  if (threadIdx.x == 0) *epoch_slot = step;
}

__global__ void __launch_bounds__(kThreads) recv_kernel(P2PArgs a) {
  __shared__ int s_aborted;
  uint64_t* epoch_slot =
      a.view.epochs + kMaxBlocks + size_t(kMaxRanks + a.peer) * kMaxBlocks + blockIdx.x;
  if (threadIdx.x == 0) s_aborted = 0;
  uint64_t step = *epoch_slot;
  const int me = a.view.rank;
  char* dst = static_cast<char*>(a.buf);
  const size_t step_bytes = p2p_step_bytes();
  for (size_t base = 0; base < a.bytes; base += step_bytes) {
    const size_t len = min(step_bytes, a.bytes - base);
    size_t lo, hi;
    block_share<uint8_t>(len, &lo, &hi);
    const uint64_t e = step + 1;
    if (threadIdx.x == 0) {
      const uint64_t* ready = flags_of(a.view, me) + flag_index(FlagKind::p2p_data, a.peer, blockIdx.x);
      if (!wait_flag(ready, e, a.view.abort_flag)) s_aborted = 1, *a.view.status = kStatusAborted;
    }
    __syncthreads();
    if (s_aborted) break;
    copy_range(reinterpret_cast<uint8_t*>(dst) + base + lo,
               reinterpret_cast<const uint8_t*>(outbox(a.view, a.peer, me, e)), hi - lo,
               a.vec != 0);
    __syncthreads();
    if (threadIdx.x == 0) {
      __threadfence_system();
      st_release_sys(flags_of(a.view, a.peer) + flag_index(FlagKind::p2p_ack, me, blockIdx.x), e);
    }
    step = e;
  }
  __syncthreads();
  if (threadIdx.x == 0) *epoch_slot = step;
}

}  // namespace device

void preload_p2p_kernels() {
  // With lazy module loading (CUDA's default), the first launch of a kernel
  // loads it, and loading waits for the device to go idle. A recv kernel
  // spinning on one stream while the matching send is launched on another
  // (a ring shift) would then wait for itself: load both up front.
  cudaFuncAttributes attr;
  if (cudaFuncGetAttributes(&attr, device::send_kernel) != cudaSuccess ||
      cudaFuncGetAttributes(&attr, device::recv_kernel) != cudaSuccess)
    throw_error(ErrorCode::CudaError, str("loading the point-to-point kernels: ",
                                          cudaGetErrorString(cudaGetLastError())));
}

void launch_send(const P2PArgs& args, int blocks, cudaStream_t stream) {
  device::send_kernel<<<blocks, kThreads, 0, stream>>>(args);
}

void launch_recv(const P2PArgs& args, int blocks, cudaStream_t stream) {
  device::recv_kernel<<<blocks, kThreads, 0, stream>>>(args);
}

}  // namespace weft::gpu
