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
// A thread with several lines (messages larger than the grid) works on
// kLLBatch of them at a time: it issues all their loads before it stores
// or checks any, so it waits one memory latency per batch, not one per line
// (its stores are volatile asm, which the compiler does not move loads past).
// Messages the grid covers with one line per thread run a batch of one:
// the batched code is longer, and at 8 bytes cost 0.4 us more
// (bench/results/gpu.md, "LL in batches").
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

inline constexpr int kLLBatch = 4;

// The LL slot that `sender` fills in `owner`'s scratch for epoch `epoch`
// (slots of `slot_bytes`: ll_slot_bytes(nranks), computed on the host).
__device__ __forceinline__ uint4* ll_slot(const PeerView& v, size_t slot_bytes, int owner, uint64_t epoch,
                                          int sender) {
  return reinterpret_cast<uint4*>(v.scratch[owner] + kLLOffset + size_t(epoch & 1) * kLLHalfBytes +
                                  size_t(sender) * slot_bytes);
}

// A line's 8 payload bytes travel as one 64-bit word, byte k in bits
// [8k, 8k + 8), and stay in registers: no byte arrays, no local memory.

// Bytes [8i, 8i + 8) of a buffer of `bytes`, zero-padded past the end.
__device__ __forceinline__ uint64_t load_payload(const char* p, size_t i, size_t bytes, bool aligned) {
  if (aligned && 8 * i + 8 <= bytes) return *reinterpret_cast<const uint64_t*>(p + 8 * i);
  uint64_t v = 0;
  for (size_t b = 8 * i; b < bytes && b < 8 * i + 8; ++b)
    v |= uint64_t(static_cast<uint8_t>(p[b])) << (8 * (b - 8 * i));
  return v;
}

__device__ __forceinline__ void store_payload(char* p, size_t i, size_t bytes, bool aligned, uint64_t v) {
  if (aligned && 8 * i + 8 <= bytes) {
    *reinterpret_cast<uint64_t*>(p + 8 * i) = v;
    return;
  }
  for (size_t b = 8 * i; b < bytes && b < 8 * i + 8; ++b) p[b] = static_cast<char>(v >> (8 * (b - 8 * i)));
}

// The lines one thread handles in one batch: first, first + stride, ...
// (those below `lines`).
struct LLBatch {
  size_t first, stride, lines;
  __device__ __forceinline__ size_t line(int u) const { return first + size_t(u) * stride; }
  __device__ __forceinline__ bool has(int u) const { return line(u) < lines; }
};

// payload[u] = bytes of line u of the batch, from a buffer of `bytes`.
template <int B>
__device__ __forceinline__ void load_batch(const char* p, const LLBatch& b, size_t bytes, bool aligned,
                                           uint64_t (&payload)[B]) {
#pragma unroll
  for (int u = 0; u < B; ++u) payload[u] = b.has(u) ? load_payload(p, b.line(u), bytes, aligned) : 0;
}

// Stores the batch's payloads into `slot` (a peer's slot for us), flagged.
template <int B>
__device__ __forceinline__ void send_batch(uint4* slot, uint32_t flag, const LLBatch& b,
                                           const uint64_t (&payload)[B]) {
#pragma unroll
  for (int u = 0; u < B; ++u)
    if (b.has(u))
      st_volatile_v4(slot + b.line(u),
                     make_uint4(static_cast<uint32_t>(payload[u]), flag, static_cast<uint32_t>(payload[u] >> 32), flag));
}

// Spins until `line` (already read once from `p`) carries `flag` in both
// halves; false when the host asked kernels to give up.
__device__ __forceinline__ bool wait_line(const uint4* p, uint32_t flag, const volatile int* abort_flag,
                                          uint4& line) {
  uint32_t spins = 0;
  while (line.y != flag || line.w != flag) {
    if ((++spins & 1023u) == 0 && abort_requested(abort_flag)) return false;
    line = ld_volatile_v4(p);
  }
  return true;
}

// Waits until every line of the batch in `slot` (a sender's slot here)
// carries `flag`, then returns their payloads. All lines are read once
// before any is waited on. False when the host asked kernels to give up.
template <int B>
__device__ __forceinline__ bool receive_batch(const uint4* slot, uint32_t flag, const volatile int* abort_flag,
                                              const LLBatch& b, uint64_t (&payload)[B]) {
  uint4 line[B];
#pragma unroll
  for (int u = 0; u < B; ++u) line[u] = b.has(u) ? ld_volatile_v4(slot + b.line(u)) : make_uint4(0, 0, 0, 0);
  bool ok = true;
#pragma unroll
  for (int u = 0; u < B; ++u) {
    if (ok && b.has(u)) ok = wait_line(slot + b.line(u), flag, abort_flag, line[u]);
    payload[u] = uint64_t(line[u].x) | (uint64_t(line[u].z) << 32);
  }
  return ok;
}

// A running reduction of 8 payload bytes (8 / sizeof(T) elements), fed one
// rank at a time in rank order (so every rank computes bit-identical results).
template <typename T, ReduceOp Op>
struct PayloadReduction {
  using A = typename Accum<T>::type;
  static constexpr int V = 8 / sizeof(T);
  static constexpr int kBits = 8 * sizeof(T);
  A acc[V];

  __device__ __forceinline__ void add(uint64_t word, bool first) {
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const auto bits = static_cast<BitsOf<T>>(word >> (j * kBits));
      T t;
      memcpy(&t, &bits, sizeof(T));
      acc[j] = first ? to_accum(t) : combine<Op>(acc[j], to_accum(t));
    }
  }
  __device__ __forceinline__ uint64_t result(int n) const {
    uint64_t word = 0;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const T t = from_accum<T>(finish<Op>(acc[j], n));
      BitsOf<T> bits;
      memcpy(&bits, &t, sizeof(T));
      word |= uint64_t(bits) << (j * kBits);
    }
    return word;
  }
};

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
// and reduces the blocks addressed to it. B: lines per batch (1 or kLLBatch).
template <typename T, ReduceOp Op, CollKind K, int B>
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
  auto batch_at = [&](size_t line) { return LLBatch{line, stride, lines}; };
  const size_t batch_stride = B * stride;
  // The first batch every peer gets loads while thread 0 fetches the epoch.
  constexpr bool same_to_all = K != CollKind::reduce_scatter;
  uint64_t payload[B];
  if (same_to_all) load_batch(in, batch_at(first), a.bytes, aligned, payload);
  if (threadIdx.x == 0) s_epoch = a.view.epochs[kLLEpochWord];
  __syncthreads();
  const uint64_t e = s_epoch + 1;
  const uint32_t flag = static_cast<uint32_t>(e);
  // Our slot in rank p's scratch, and rank p's slot in ours.
  auto slot_at = [&](int p) { return ll_slot(a.view, a.slot_bytes, p, e, me); };
  auto slot_from = [&](int p) { return ll_slot(a.view, a.slot_bytes, me, e, p); };

  for (size_t line = first; line < lines; line += batch_stride) {
    const LLBatch b = batch_at(line);
    if (same_to_all && line != first) load_batch(in, b, a.bytes, aligned, payload);
    for (int p = 0; p < n; ++p) {
      if (p == me) continue;
      if (!same_to_all) load_batch(outgoing(p), b, a.bytes, aligned, payload);
      send_batch(slot_at(p), flag, b, payload);
    }
  }
  bool aborted = false;
  for (size_t line = first; line < lines && !aborted; line += batch_stride) {
    const LLBatch b = batch_at(line);
    if constexpr (K == CollKind::allgather) {
      for (int p = 0; p < n && !aborted; ++p) {
        if (p == me) load_batch(in, b, a.bytes, aligned, payload);
        else aborted = !receive_batch(slot_from(p), flag, a.view.abort_flag, b, payload);
        if (aborted) break;
#pragma unroll
        for (int u = 0; u < B; ++u)
          if (b.has(u)) store_payload(out + size_t(p) * a.bytes, b.line(u), a.bytes, aligned, payload[u]);
      }
    } else {
      // Our own part loads while the peers' lines are polled.
      uint64_t mine[B];
      load_batch(outgoing(me), b, a.bytes, aligned, mine);
      PayloadReduction<T, Op> sum[B];
      for (int p = 0; p < n; ++p) {
        if (p != me && !receive_batch(slot_from(p), flag, a.view.abort_flag, b, payload)) {
          aborted = true;
          break;
        }
#pragma unroll
        for (int u = 0; u < B; ++u) sum[u].add(p == me ? mine[u] : payload[u], p == 0);
      }
      if (aborted) break;
#pragma unroll
      for (int u = 0; u < B; ++u)
        if (b.has(u)) store_payload(out, b.line(u), a.bytes, aligned, sum[u].result(n));
    }
  }
  if (aborted) *a.view.status = kStatusAborted;
  __syncthreads();
  if (threadIdx.x == 0) finish_ll_epoch(a.view.epochs, e);
}

}  // namespace weft::gpu::device
