// The layout of each rank's scratch allocation, shared by host and device.
//
// Every rank allocates one cuMem buffer at init and every peer maps it, so
// each rank sees all ranks' scratch. It holds:
//
//   [flags]  64-byte slots per (sender rank, block), three kinds: collective
//            steps, point-to-point "data ready" and point-to-point "consumed"
//            acknowledgements. Written remotely with st.release.sys, read
//            here with ld.acquire.sys.
//   [data]   two halves of kHalfBytes: consecutive steps of a collective
//            alternate halves (the parity of the step's first epoch picks
//            one), so the barrier of step e+1 proves every peer finished
//            with the half that step e+2 overwrites: one barrier per step, no
//            clearing. Pull steps stage into their own scratch and peers
//            read it; push steps write into the peers' scratch and read
//            their own; a two-shot step has two barriers, e and e+1, and
//            uses each one's half (parts to reduce in e's, reduced parts in
//            e+1's), so the alternation holds for whatever step follows.
//   [p2p]    per peer: two halves of kP2PHalfBytes, this rank's outbox to it.
//   [ll]     two halves x one slot per sender: small allreduces' LL lines.
//
// Epochs live in device memory and advance inside the kernels, never on the
// host, so a captured CUDA graph replays correctly.
#pragma once

#include <cstddef>
#include <cstdint>

#ifdef __CUDACC__
#define WEFT_HOST_DEVICE __host__ __device__
#else
#define WEFT_HOST_DEVICE
#endif

namespace weft::gpu {

inline constexpr int kMaxRanks = 8;
inline constexpr int kMaxBlocks = 64;
inline constexpr int kThreads = 512;
inline constexpr size_t kFlagStride = 8;  // uint64 words per flag slot (64 bytes)
inline constexpr size_t kFlagSlots = size_t(kMaxRanks) * kMaxBlocks;
enum class FlagKind : int { collective = 0, p2p_data = 1, p2p_ack = 2 };
inline constexpr size_t kFlagsBytes = 3 * kFlagSlots * kFlagStride * sizeof(uint64_t);
// 32 MiB: a large two-shot allreduce pays two barriers per half it moves
// (8 MiB halves cost it ~10 % at 256 MiB on 2 H200s, bench/results/gpu.md).
inline constexpr size_t kHalfBytes = size_t(32) << 20;
inline constexpr size_t kP2PHalfBytes = size_t(1) << 20;
inline constexpr size_t kDataOffset = kFlagsBytes;
inline constexpr size_t kP2POffset = kDataOffset + 2 * kHalfBytes;
// [ll] two halves, each split into one slot per sender: 16-byte lines of
//      {data, flag, data, flag} (ll_kernel.cuh); payload is half the slot.
//      The halves are split among the communicator's ranks, so fewer ranks
//      get larger slots (2 ranks: 512 KiB of payload, 8 ranks: 128 KiB).
inline constexpr size_t kLLHalfBytes = size_t(2) << 20;
inline constexpr size_t kLLOffset = kP2POffset + size_t(kMaxRanks) * 2 * kP2PHalfBytes;
inline constexpr size_t kScratchBytes = kLLOffset + 2 * kLLHalfBytes;

// Bytes of each sender's LL slot in a communicator of `nranks`.
WEFT_HOST_DEVICE inline constexpr size_t ll_slot_bytes(int nranks) {
  return (kLLHalfBytes / size_t(nranks)) & ~size_t(15);
}
// The largest LL payload (bytes per rank) in a communicator of `nranks`.
WEFT_HOST_DEVICE inline constexpr size_t ll_max_payload(int nranks) { return ll_slot_bytes(nranks) / 2; }

// What a kernel writes to the host-mapped status word when it gives up.
inline constexpr int kStatusAborted = 1;   // the host raised the abort word
inline constexpr int kStatusMismatch = 2;  // a peer runs another algorithm for this operation

// Algorithms, as announced in every collective barrier (peers must agree).
inline constexpr uint64_t kAlgoStaged = 1;        // copy through scratch, one barrier per step
inline constexpr uint64_t kAlgoZeroCopy = 2;      // registered buffers, two-shot, two barriers
inline constexpr uint64_t kAlgoTwoShot = 3;      // allreduce pushed through scratch, two barriers per step
inline constexpr uint64_t kAlgoPush = 4;          // small messages: written into the peers' scratch

// Word index (into the flags region) of the flag of `kind` that `sender` writes for `block`.
WEFT_HOST_DEVICE inline constexpr size_t flag_index(FlagKind kind, int sender, int block) {
  return ((size_t(kind) * kMaxRanks + sender) * kMaxBlocks + block) * kFlagStride;
}

// What every kernel gets by value: where each rank's scratch is as seen from
// this process, and this rank's device-side state.
struct PeerView {
  char* scratch[kMaxRanks];  // each rank's scratch base, mapped here (own included)
  int rank;
  int nranks;
  uint64_t* epochs;          // device memory: [kMaxBlocks] collective epochs, then
                             // [kMaxRanks][kMaxBlocks] send epochs, [kMaxRanks][kMaxBlocks] recv epochs,
                             // then the LL epoch and the LL blocks-finished count
  const volatile int* abort_flag;  // host-mapped; nonzero = give up
  int* status;               // host-mapped; kernels write 1 when they gave up
};

// LL kernels size their grid to the message, so they cannot use the
// per-block epochs (a block that sat out an operation would fall behind its
// peers' same-numbered block): every LL launch shares one epoch, advanced by
// whichever of its blocks finishes last.
inline constexpr size_t kLLEpochWord = kMaxBlocks + 2 * size_t(kMaxRanks) * kMaxBlocks;
inline constexpr size_t kLLFinishedWord = kLLEpochWord + 1;
inline constexpr size_t kEpochWords = kLLFinishedWord + 1;

}  // namespace weft::gpu
