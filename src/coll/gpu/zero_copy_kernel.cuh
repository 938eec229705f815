// Zero-copy two-shot allreduce over registered buffers.
//
// When every rank registered its input and output, no data goes through
// scratch. One kernel, two barriers:
//   1. barrier: every block tells the same block of each peer where that peer
//      sees this rank's input and output (the barrier payload) and learns
//      theirs; arriving also proves each peer's input is ready (it is on the
//      peer's stream before this kernel);
//   2. reduce-scatter + push: rank r owns slice r of the elements; each block
//      reduces its share of slice r from every rank's input (NVLink reads) and
//      writes the result into every rank's output (NVLink writes);
//   3. barrier: every peer's pushes into our output have landed, and nobody
//      reads our input any more, so the caller may reuse both.
// Each rank reads (n-1)/n and writes (n-1)/n of the buffer remotely: the
// bandwidth-optimal traffic of a ring, in one step. A block waits only for
// the same block on the peers; block b's share of every slice is the same
// range of its slice, so its barrier covers exactly what it wrote.
#pragma once

#include "coll/gpu/coll_kernel.cuh"

namespace weft::gpu::device {

template <typename T, ReduceOp Op>
__global__ void __launch_bounds__(kThreads) zero_copy_allreduce_kernel(ZeroCopyArgs a) {
  __shared__ uint64_t s_epoch;
  __shared__ int s_aborted;
  __shared__ uintptr_t s_in[kMaxRanks], s_out[kMaxRanks];
  const int n = a.view.nranks;
  const int me = a.view.rank;
  if (threadIdx.x == 0) {
    s_epoch = a.view.epochs[blockIdx.x];
    s_aborted = 0;
    s_in[me] = reinterpret_cast<uintptr_t>(a.in);
    s_out[me] = reinterpret_cast<uintptr_t>(a.out);
  }
  __syncthreads();
  const uint64_t e = s_epoch + 1;
  BarrierPayload pay{kAlgoZeroCopy, a.in_seen_by, a.out_seen_by, s_in, s_out};
  if (barrier_all(a.view, e, &s_aborted, pay)) {
    constexpr size_t V = 16 / sizeof(T);
    const size_t per_rank = ceil_div(ceil_div(a.count, size_t(n)), V) * V;
    const size_t slice_lo = min(a.count, size_t(me) * per_rank);
    const size_t slice_len = min(a.count, slice_lo + per_rank) - slice_lo;
    size_t lo, hi;
    block_share<T>(slice_len, &lo, &hi);
    const T* src[kMaxRanks];
    T* dst[kMaxRanks];
    for (int p = 0; p < n; ++p) {
      src[p] = reinterpret_cast<const T*>(s_in[p]) + slice_lo + lo;
      dst[p] = reinterpret_cast<T*>(s_out[p]) + slice_lo + lo;
    }
    reduce_range<T, Op>(dst, n, src, n, hi - lo, a.vec != 0);
    barrier_all(a.view, e + 1, &s_aborted, {kAlgoZeroCopy});
  }
  __syncthreads();
  if (threadIdx.x == 0) a.view.epochs[blockIdx.x] = e + 1;
}

}  // namespace weft::gpu::device
