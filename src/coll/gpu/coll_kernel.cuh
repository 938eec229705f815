// The step skeleton shared by the scratch-based GPU collectives.
//
// Each step moves one chunk, in one of three ways:
//   - pull: every block copies its share of the chunk from the user's input
//     into this rank's scratch (half chosen by the step's epoch parity); a
//     barrier (the block signals its epoch to the same block of every peer
//     and waits for theirs, release/acquire at system scope); then it reads
//     the peers' shares straight from their scratch over NVLink, reduces or
//     copies them, writes the output;
//   - push (small messages): the block writes its share into the peers'
//     scratch, a barrier, then consumes from its own scratch;
//   - two-shot (large allreduces): push each rank its part, barrier, reduce
//     our part and push it back to every rank, barrier, copy out.
// Blocks never wait for each other, only for the same block on the peers.
// That is sound only because each block owns a FIXED region of every scratch
// half (block_region): a block's flag then covers exactly the bytes that
// block writes and reads, whatever share of a chunk it has this step (shares
// change between steps and operations: partial last chunks, other counts). Reductions read
// ranks in order 0..n-1, so every rank computes bit-identical results.
#pragma once

#include <cuda_runtime.h>

#include <type_traits>

#include "coll/gpu/kernel_args.h"
#include "cuda/device/elementwise.cuh"
#include "cuda/device/sync.cuh"

namespace weft::gpu::device {

__device__ __forceinline__ size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// Bytes of each scratch half (of `half_bytes`) that one block owns.
__device__ __forceinline__ size_t block_region(size_t half_bytes) {
  return (half_bytes / gridDim.x) & ~size_t(15);
}

// This block's share [lo, hi) of a chunk of `len` elements, in whole 16-byte packs.
template <typename T>
__device__ __forceinline__ void block_share(size_t len, size_t* lo, size_t* hi) {
  constexpr size_t V = 16 / sizeof(T);
  const size_t per = ceil_div(ceil_div(len, gridDim.x), V) * V;
  *lo = min(len, size_t(blockIdx.x) * per);
  *hi = min(len, *lo + per);
}

// Loads that bypass L1. Scratch halves are reused every other step, and a
// block may read the same peer address again after the peer rewrote it: an
// L1 hit would return the old step's data. (.cg caches in L2 only; the
// owner's L2 is where peer accesses over NVLink are coherent.)
__device__ __forceinline__ uint4 load_fresh(const uint4* p) { return __ldcg(p); }

template <typename T>
__device__ __forceinline__ T load_fresh(const T* p) {
  BitsOf<T> bits = *reinterpret_cast<const volatile BitsOf<T>*>(p);  // ld.volatile: never an L1 hit
  T value;
  memcpy(&value, &bits, sizeof(T));
  return value;
}

// Latency hiding: a thread that loads one 16-byte pack at a time waits a
// whole NVLink round trip per pack. Every loop below first issues several
// independent loads (kCopyUnroll packs, or two packs from each source rank),
// then uses them, so each thread keeps that many requests in flight.
inline constexpr int kCopyUnroll = 4;

template <typename T>
__device__ __forceinline__ void copy_range(T* dst, const T* src, size_t n, bool vec) {
  size_t done = 0;
  if (vec) {
    constexpr size_t V = 16 / sizeof(T);
    const size_t packs = n / V;
    const size_t stride = blockDim.x;
    uint4* d = reinterpret_cast<uint4*>(dst);
    const uint4* s = reinterpret_cast<const uint4*>(src);
    size_t i = threadIdx.x;
    for (; i + (kCopyUnroll - 1) * stride < packs; i += kCopyUnroll * stride) {
      uint4 r[kCopyUnroll];
#pragma unroll
      for (int u = 0; u < kCopyUnroll; ++u) r[u] = load_fresh(s + i + u * stride);
#pragma unroll
      for (int u = 0; u < kCopyUnroll; ++u) d[i + u * stride] = r[u];
    }
    for (; i < packs; i += stride) d[i] = load_fresh(s + i);
    done = packs * V;
  }
  for (size_t i = done + threadIdx.x; i < n; i += blockDim.x) dst[i] = load_fresh(src + i);
}

// The reduction of one 16-byte pack from each of `nsrc` ranks.
template <typename T, ReduceOp Op>
__device__ __forceinline__ uint4 reduce_pack(const uint4 (&raw)[kMaxRanks], int nsrc) {
  using A = typename Accum<T>::type;
  constexpr int V = 16 / sizeof(T);
  A acc[V];
#pragma unroll
  for (int j = 0; j < V; ++j) acc[j] = to_accum(reinterpret_cast<const T*>(&raw[0])[j]);
#pragma unroll
  for (int s = 1; s < kMaxRanks; ++s) {
    if (s < nsrc) {
#pragma unroll
      for (int j = 0; j < V; ++j)
        acc[j] = combine<Op>(acc[j], to_accum(reinterpret_cast<const T*>(&raw[s])[j]));
    }
  }
  uint4 result;
#pragma unroll
  for (int j = 0; j < V; ++j) reinterpret_cast<T*>(&result)[j] = from_accum<T>(finish<Op>(acc[j], nsrc));
  return result;
}

// dst[d][i] = finish(src[0][i] op src[1][i] op ... op src[n-1][i]) for each
// of the `ndst` destinations (one for the staged path, every rank's slot or
// output for the two-shot paths). Sources are reduced in rank order, so
// every rank computes bit-identical results.
template <typename T, ReduceOp Op>
__device__ __forceinline__ void reduce_range(T* const* dst, int ndst, const T* const* src,
                                             int nsrc, size_t n, bool vec) {
  using A = typename Accum<T>::type;
  size_t done = 0;
  if (vec) {
    constexpr int V = 16 / sizeof(T);
    const size_t packs = n / V;
    const size_t stride = blockDim.x;
    size_t i = threadIdx.x;
    for (; i + stride < packs; i += 2 * stride) {
      uint4 ra[kMaxRanks], rb[kMaxRanks];
#pragma unroll
      for (int s = 0; s < kMaxRanks; ++s) {
        if (s < nsrc) {
          ra[s] = load_fresh(reinterpret_cast<const uint4*>(src[s]) + i);
          rb[s] = load_fresh(reinterpret_cast<const uint4*>(src[s]) + i + stride);
        }
      }
      const uint4 a = reduce_pack<T, Op>(ra, nsrc);
      const uint4 b = reduce_pack<T, Op>(rb, nsrc);
#pragma unroll
      for (int d = 0; d < kMaxRanks; ++d) {
        if (d < ndst) {
          reinterpret_cast<uint4*>(dst[d])[i] = a;
          reinterpret_cast<uint4*>(dst[d])[i + stride] = b;
        }
      }
    }
    for (; i < packs; i += stride) {
      uint4 ra[kMaxRanks];
#pragma unroll
      for (int s = 0; s < kMaxRanks; ++s)
        if (s < nsrc) ra[s] = load_fresh(reinterpret_cast<const uint4*>(src[s]) + i);
      const uint4 a = reduce_pack<T, Op>(ra, nsrc);
#pragma unroll
      for (int d = 0; d < kMaxRanks; ++d)
        if (d < ndst) reinterpret_cast<uint4*>(dst[d])[i] = a;
    }
    done = packs * V;
  }
  for (size_t i = done + threadIdx.x; i < n; i += blockDim.x) {
    A acc = to_accum(load_fresh(src[0] + i));
    for (int s = 1; s < nsrc; ++s) acc = combine<Op>(acc, to_accum(load_fresh(src[s] + i)));
    const T result = from_accum<T>(finish<Op>(acc, nsrc));
    for (int d = 0; d < ndst; ++d) dst[d][i] = result;
  }
}

// What a barrier carries besides its epoch, in the other words of the flag
// slot: the algorithm the sender runs (ranks that disagree give up with
// kStatusMismatch instead of waiting on flags that will never come) and,
// for zero-copy algorithms, where the receiving peer sees the sender's input
// and output buffers.
struct BarrierPayload {
  uint64_t algo = 0;
  const uintptr_t* in_seen_by = nullptr;   // [peer] -> address at that peer
  const uintptr_t* out_seen_by = nullptr;
  uintptr_t* peer_in = nullptr;             // filled: [peer] -> its input, seen here
  uintptr_t* peer_out = nullptr;
};

// Signals `epoch` to this block on every peer and waits for theirs.
// Returns false (on every thread) when the host asked kernels to give up or
// a peer runs another algorithm.
__device__ __forceinline__ bool barrier_all(const PeerView& v, uint64_t epoch, int* s_aborted,
                                            const BarrierPayload& pay = {}) {
  __syncthreads();
  const int p = threadIdx.x;
  if (p < v.nranks && p != v.rank) {
    __threadfence_system();
    auto* slot = reinterpret_cast<uint64_t*>(v.scratch[p]) +
                 flag_index(FlagKind::collective, v.rank, blockIdx.x);
    if (pay.in_seen_by) {
      slot[1] = pay.in_seen_by[p];
      slot[2] = pay.out_seen_by[p];
    }
    slot[3] = pay.algo;
    st_release_sys(slot, epoch);  // orders the payload stores before the epoch
    const auto* theirs = reinterpret_cast<const uint64_t*>(v.scratch[v.rank]) +
                         flag_index(FlagKind::collective, p, blockIdx.x);
    if (!wait_flag(theirs, epoch, v.abort_flag)) {
      *s_aborted = 1;
      *v.status = kStatusAborted;
    } else {
      const volatile uint64_t* words = theirs;
      if (words[3] != pay.algo) {
        *s_aborted = 1;
        *v.status = kStatusMismatch;
      } else if (pay.peer_in) {
        pay.peer_in[p] = words[1];
        pay.peer_out[p] = words[2];
      }
    }
  }
  __syncthreads();
  return *s_aborted == 0;
}

template <typename T, ReduceOp Op, CollKind K>
__global__ void __launch_bounds__(kThreads) coll_kernel(CollArgs a) {
  __shared__ uint64_t s_epoch;
  __shared__ int s_aborted;
  if (threadIdx.x == 0) {
    s_epoch = a.view.epochs[blockIdx.x];
    s_aborted = 0;
  }
  __syncthreads();
  uint64_t epoch = s_epoch;
  const int n = a.view.nranks;
  const int me = a.view.rank;
  const bool vec = a.vec != 0;
  const T* in = static_cast<const T*>(a.in);
  T* out = static_cast<T*>(a.out);
  constexpr bool kSlotPerRank = K == CollKind::reduce_scatter || K == CollKind::alltoall;

  for (size_t base = 0; base < a.count; base += a.chunk) {
    const size_t len = min(a.chunk, a.count - base);
    size_t lo, hi;
    block_share<T>(len, &lo, &hi);
    const size_t m = hi - lo;
    const uint64_t e = epoch + 1;
    // This block's region of a step's half, split into `slots` slots.
    const size_t region = block_region(kHalfBytes);
    const bool push = a.push != 0;
    const bool two_shot = K == CollKind::allreduce && a.two_shot != 0;
    const int slots = (kSlotPerRank || two_shot || (push && K != CollKind::broadcast)) ? n : 1;
    const size_t slot_bytes = (region / slots) & ~size_t(15);
    // Slot s of this block's region in `rank`'s scratch, in the half of
    // epoch `half` (the step's own: e; a two-shot's second barrier: e + 1).
    auto slot_in = [&](uint64_t half, int rank, int s) {
      return reinterpret_cast<T*>(a.view.scratch[rank] + kDataOffset + (half & 1) * kHalfBytes +
                                  blockIdx.x * region + size_t(s) * slot_bytes);
    };
    auto slot = [&](int rank, int s) { return slot_in(e, rank, s); };
    const T* my_share = in + base + lo;

    if constexpr (K == CollKind::allreduce) {
      if (two_shot) {
        // Two-shot, pushed (large unregistered buffers): rank q reduces part
        // q of every block's share. 1. we write our part q into rank q's
        // slot for us; 2. after the barrier we reduce our part (our own
        // input + what the peers wrote here), write it to our output and
        // into every peer's slot for us in the other half; 3. after the
        // second barrier the peers' reduced parts are here: copy them out.
        // Every NVLink access is a posted write; nothing is staged.
        constexpr size_t V = 16 / sizeof(T);
        const size_t per = ceil_div(ceil_div(m, size_t(n)), V) * V;  // <= one slot (host chunk)
        auto part_lo = [&](int r) { return min(m, size_t(r) * per); };
        auto part_len = [&](int r) { return min(m, part_lo(r) + per) - part_lo(r); };
        for (int q = 0; q < n; ++q)
          if (q != me) copy_range(slot_in(e, q, me), my_share + part_lo(q), part_len(q), vec);
        if (!barrier_all(a.view, e, &s_aborted, {kAlgoTwoShot})) break;
        const T* src[kMaxRanks];
        T* dst[kMaxRanks];
        dst[0] = out + base + lo + part_lo(me);
        int ndst = 1;
        for (int p = 0; p < n; ++p) {
          src[p] = p == me ? my_share + part_lo(me) : slot_in(e, me, p);
          if (p != me) dst[ndst++] = slot_in(e + 1, p, me);
        }
        reduce_range<T, Op>(dst, n, src, n, part_len(me), vec);
        if (!barrier_all(a.view, e + 1, &s_aborted, {kAlgoTwoShot})) break;
        for (int p = 0; p < n; ++p)
          if (p != me) copy_range(out + base + lo + part_lo(p), slot_in(e + 1, me, p), part_len(p), vec);
        // The step used both halves; the next one starts at e + 2, whose
        // half (e's) every peer left when it signalled e + 1.
        epoch = e + 1;
        continue;
      }
    }

    if (push) {
      // Push (small messages): write our share straight into the peers'
      // scratch (NVLink writes are posted), then everything this rank
      // consumes after the barrier is local: one one-way trip instead of the
      // pull path's flag trip followed by a remote-read round trip. Our own
      // part is read from our input where it is consumed, never staged.
      auto part_for = [&](int q) {  // what our input holds for rank q
        return kSlotPerRank ? in + size_t(q) * a.count + base + lo : my_share;
      };
      if constexpr (K == CollKind::broadcast) {
        if (me == a.root)
          for (int p = 0; p < n; ++p)
            if (p != me) copy_range(slot(p, 0), my_share, m, vec);
      } else if constexpr (K == CollKind::reduce) {
        if (me != a.root) copy_range(slot(a.root, me), my_share, m, vec);
      } else {
        for (int q = 0; q < n; ++q)
          if (q != me) copy_range(slot(q, me), part_for(q), m, vec);
      }
      if (!barrier_all(a.view, e, &s_aborted, {kAlgoPush})) break;
      // What rank p contributed to us: its slot here, or our own input.
      auto from = [&](int p) { return p == me ? part_for(me) : slot(me, p); };
      if constexpr (K == CollKind::allreduce || K == CollKind::reduce ||
                    K == CollKind::reduce_scatter) {
        if (K != CollKind::reduce || me == a.root) {
          const T* src[kMaxRanks];
          for (int p = 0; p < n; ++p) src[p] = from(p);
          T* const dst = out + base + lo;
          reduce_range<T, Op>(&dst, 1, src, n, m, vec);
        }
      } else if constexpr (K == CollKind::broadcast) {
        if (me != a.root) copy_range(out + base + lo, slot(me, 0), m, vec);
        else if (out != in) copy_range(out + base + lo, my_share, m, vec);
      } else {  // allgather, alltoall: block p of the output came from rank p
        for (int p = 0; p < n; ++p) {
          T* const dst = out + size_t(p) * a.count + base + lo;
          if (dst != from(p)) copy_range(dst, from(p), m, vec);
        }
      }
      epoch = e;
      continue;
    }

    // Pull: 1. stage this block's share of the chunk in our scratch
    if constexpr (K == CollKind::broadcast) {
      if (me == a.root) copy_range(slot(me, 0), my_share, m, vec);
    } else if constexpr (kSlotPerRank) {
      for (int q = 0; q < n; ++q) copy_range(slot(me, q), in + size_t(q) * a.count + base + lo, m, vec);
    } else {
      copy_range(slot(me, 0), my_share, m, vec);
    }

    // 2. everybody staged
    if (!barrier_all(a.view, e, &s_aborted, {kAlgoStaged})) break;

    // 3. consume the peers' shares
    if constexpr (K == CollKind::allreduce || K == CollKind::reduce ||
                  K == CollKind::reduce_scatter) {
      if (K != CollKind::reduce || me == a.root) {
        const T* src[kMaxRanks];
        for (int p = 0; p < n; ++p) src[p] = slot(p, K == CollKind::reduce_scatter ? me : 0);
        T* const dst = out + base + lo;
        reduce_range<T, Op>(&dst, 1, src, n, m, vec);
      }
    } else if constexpr (K == CollKind::broadcast) {
      if (me != a.root) copy_range(out + base + lo, slot(a.root, 0), m, vec);
      else if (out != in) copy_range(out + base + lo, my_share, m, vec);
    } else if constexpr (K == CollKind::allgather) {
      for (int p = 0; p < n; ++p) copy_range(out + size_t(p) * a.count + base + lo, slot(p, 0), m, vec);
    } else {  // alltoall
      for (int p = 0; p < n; ++p) copy_range(out + size_t(p) * a.count + base + lo, slot(p, me), m, vec);
    }
    epoch = e;
  }
  __syncthreads();
  if (threadIdx.x == 0) a.view.epochs[blockIdx.x] = epoch;
}

}  // namespace weft::gpu::device
