// Low-latency (LL) protocol for small allreduce, allgather and reduce_scatter:
// data and flag in one store.
//
// The push and pull paths pay for a barrier: a system-scope fence (which
// waits until the NVLink writes before it are acknowledged) and then a flag
// write the peers wait for. LL needs neither. Every 16-byte line a rank
// stores into a peer's LL slot is {data0, flag, data1, flag}: each 8-byte
// half arrives whole, so a reader that sees the current flag in both halves
// has the 8 payload bytes, with no fence between them (NCCL's LL protocol).
// One one-way NVLink trip, no fence, no barrier.
//
// The grid fits the message (one thread per line, up to the communicator's
// blocks): an 8-byte allreduce is one warp, not 32 blocks of 512 threads
// that each read and write an epoch. Every rank computes the same grid from
// the same size, and all of an LL launch's blocks share one epoch
// (layout.h, kLLEpochWord).
//
// Reuse without a barrier: slots alternate halves by epoch parity. A rank
// writes step e+2 into a peer's half only after its kernel for step e+1
// finished, which needed every line of that peer's step e+1 message; the
// peer sent those only from its kernel for step e+1, which started after its
// kernel for step e (the last to read that half) had finished. Flags are the
// epoch's low 32 bits, so lines left in a half by earlier steps (e-2, e-4...,
// of any size) never look current. LL has its own scratch region, so the
// other algorithms' halves are untouched.
//
// Launched as a programmatic dependent (cuda/device/dependent_launch.cuh):
// nothing is touched before the previous grid on the stream has finished.
#pragma once

#include "coll/gpu/coll_kernel.cuh"
#include "cuda/device/dependent_launch.cuh"

namespace weft::gpu::device {

__device__ __forceinline__ void st_volatile_v4(uint4* p, uint4 v) {
  asm volatile("st.volatile.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(v.x), "r"(v.y),
               "r"(v.z), "r"(v.w)
               : "memory");
}

__device__ __forceinline__ uint4 ld_volatile_v4(const uint4* p) {
  uint4 v;
  asm volatile("ld.volatile.global.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p)
               : "memory");
  return v;
}

// Line i of the LL slot that `sender` fills in `owner`'s scratch.
__device__ __forceinline__ uint4* ll_line(const PeerView& v, int owner, uint64_t epoch, int sender,
                                          size_t i) {
  return reinterpret_cast<uint4*>(v.scratch[owner] + kLLOffset +
                                  ((size_t(epoch & 1) * kMaxRanks + sender) * kLLSlotBytes)) +
         i;
}

// Bytes [8i, 8i + 8) of a buffer of `bytes`, zero-padded past the end.
__device__ __forceinline__ uint2 load_payload(const char* p, size_t i, size_t bytes, bool aligned) {
  if (aligned && 8 * i + 8 <= bytes) return *reinterpret_cast<const uint2*>(p + 8 * i);
  uint2 v = make_uint2(0, 0);
  char* d = reinterpret_cast<char*>(&v);
  for (size_t b = 8 * i; b < bytes && b < 8 * i + 8; ++b) d[b - 8 * i] = p[b];
  return v;
}

__device__ __forceinline__ void store_payload(char* p, size_t i, size_t bytes, bool aligned, uint2 v) {
  if (aligned && 8 * i + 8 <= bytes) {
    *reinterpret_cast<uint2*>(p + 8 * i) = v;
    return;
  }
  const char* s = reinterpret_cast<const char*>(&v);
  for (size_t b = 8 * i; b < bytes && b < 8 * i + 8; ++b) p[b] = s[b - 8 * i];
}

// The reduction, in rank order, of 8 payload bytes from each rank.
template <typename T, ReduceOp Op>
__device__ __forceinline__ uint2 reduce_payload(const uint2 (&vals)[kMaxRanks], int n) {
  using A = typename Accum<T>::type;
  constexpr int V = 8 / sizeof(T);
  A acc[V];
#pragma unroll
  for (int j = 0; j < V; ++j) acc[j] = to_accum(reinterpret_cast<const T*>(&vals[0])[j]);
#pragma unroll
  for (int p = 1; p < kMaxRanks; ++p) {
    if (p < n) {
#pragma unroll
      for (int j = 0; j < V; ++j)
        acc[j] = combine<Op>(acc[j], to_accum(reinterpret_cast<const T*>(&vals[p])[j]));
    }
  }
  uint2 r;
#pragma unroll
  for (int j = 0; j < V; ++j) reinterpret_cast<T*>(&r)[j] = from_accum<T>(finish<Op>(acc[j], n));
  return r;
}

// Spins until line i of `sender`'s slot here carries `flag`; false when the
// host asked kernels to give up.
__device__ __forceinline__ bool ll_receive(const PeerView& v, uint64_t epoch, int sender, size_t i,
                                           uint32_t flag, uint2* payload) {
  const uint4* src = ll_line(v, v.rank, epoch, sender, i);
  uint4 line = ld_volatile_v4(src);
  uint32_t spins = 0;
  while (line.y != flag || line.w != flag) {
    if ((++spins & 1023u) == 0 && abort_requested(v.abort_flag)) return false;
    line = ld_volatile_v4(src);
  }
  *payload = make_uint2(line.x, line.z);
  return true;
}

// Publishes epoch `e` as the LL epoch once every block of this launch is
// done with it; called by one thread per block after the block's work.
__device__ __forceinline__ void finish_ll_epoch(uint64_t* epochs, uint64_t e) {
  if (gridDim.x == 1) {
    epochs[kLLEpochWord] = e;
    return;
  }
  auto* finished = reinterpret_cast<unsigned long long*>(epochs + kLLFinishedWord);
  if (atomicAdd(finished, 1ull) == gridDim.x - 1) {
    *finished = 0;
    epochs[kLLEpochWord] = e;
  }
}

// K = allreduce: every rank sends its whole buffer (a.bytes) to every peer and
// reduces what arrives. allgather (T = uint8_t): every rank sends its block
// (a.bytes) to every peer, which stores it as block `sender` of its output.
// reduce_scatter: rank r sends block q of its input (a.bytes each) to rank q
// and reduces the blocks addressed to it.
template <typename T, ReduceOp Op, CollKind K>
__global__ void __launch_bounds__(kThreads) ll_kernel(LLArgs a) {
  __shared__ uint64_t s_epoch;
  cuda::device::wait_for_previous_grid();
  cuda::device::allow_next_grid();
  const int n = a.view.nranks;
  const int me = a.view.rank;
  const size_t lines = (a.bytes + 7) / 8;
  const size_t first = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  const char* in = static_cast<const char*>(a.in);
  char* out = static_cast<char*>(a.out);
  const bool aligned = a.aligned != 0;
  // The part of our input that goes to rank p.
  auto outgoing = [&](int p) {
    return K == CollKind::reduce_scatter ? in + size_t(p) * a.bytes : in;
  };
  // The first line every peer gets loads while thread 0 fetches the epoch.
  constexpr bool same_to_all = K != CollKind::reduce_scatter;
  const uint2 first_payload =
      same_to_all && first < lines ? load_payload(in, first, a.bytes, aligned) : make_uint2(0, 0);
  if (threadIdx.x == 0) s_epoch = a.view.epochs[kLLEpochWord];
  __syncthreads();
  const uint64_t e = s_epoch + 1;
  const uint32_t flag = static_cast<uint32_t>(e);

  for (size_t i = first; i < lines; i += stride) {
    uint2 d = first_payload;
    if (same_to_all && i != first) d = load_payload(in, i, a.bytes, aligned);
    for (int p = 0; p < n; ++p) {
      if (p == me) continue;
      if (!same_to_all) d = load_payload(outgoing(p), i, a.bytes, aligned);
      st_volatile_v4(ll_line(a.view, p, e, me, i), make_uint4(d.x, flag, d.y, flag));
    }
  }
  bool aborted = false;
  for (size_t i = first; i < lines && !aborted; i += stride) {
    if constexpr (K == CollKind::allgather) {
      for (int p = 0; p < n && !aborted; ++p) {
        uint2 d;
        if (p == me) d = load_payload(in, i, a.bytes, aligned);
        else aborted = !ll_receive(a.view, e, p, i, flag, &d);
        if (!aborted) store_payload(out + size_t(p) * a.bytes, i, a.bytes, aligned, d);
      }
    } else {
      uint2 vals[kMaxRanks];
#pragma unroll
      for (int p = 0; p < kMaxRanks; ++p) {
        if (p >= n || aborted) continue;
        if (p == me) vals[p] = load_payload(outgoing(me), i, a.bytes, aligned);
        else aborted = !ll_receive(a.view, e, p, i, flag, &vals[p]);
      }
      if (!aborted) store_payload(out, i, a.bytes, aligned, reduce_payload<T, Op>(vals, n));
    }
  }
  if (aborted) *a.view.status = kStatusAborted;
  __syncthreads();
  if (threadIdx.x == 0) finish_ll_epoch(a.view.epochs, e);
}

}  // namespace weft::gpu::device
