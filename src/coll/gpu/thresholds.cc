#include "coll/gpu/thresholds.h"

#include <algorithm>
#include <optional>

#include "weft/env.h"

namespace weft::gpu {

namespace {

// A size variable that is either a number of bytes or "auto" (nullopt).
std::optional<size_t> bytes_unless_auto(const char* name) {
  if (env::get(name) == "auto") return std::nullopt;
  return static_cast<size_t>(env::get_int(name));
}

}  // namespace

size_t SizeByCollective::of(CollKind kind) const {
  switch (kind) {
    case CollKind::allreduce: return allreduce;
    case CollKind::allgather: return allgather;
    case CollKind::reduce_scatter: return reduce_scatter;
    default: return 0;
  }
}

SizeByCollective zero_copy_min_bytes_from_env(int gpus) {
  constexpr size_t KiB = 1024, MiB = 1024 * KiB;
  if (auto bytes = bytes_unless_auto("WEFT_GPU_ZERO_COPY_MIN_BYTES")) return {*bytes, *bytes, *bytes};
  // Measured on H200s (bench/results/gpu.md, "Zero-copy thresholds"). 2 GPUs
  // (bench/gpu/threshold-sweep.sh, medians of 3): the copy path is faster up
  // to 1 MiB for allreduce (13.4 vs 14.0 us at 1 MiB, 22.4 vs 17.2 at 2 MiB)
  // and up to 2 MiB for allgather and reduce_scatter (12.3 vs 13.1, 12.7 vs
  // 13.7 us), which tie or favour zero-copy from 4 MiB. 4 GPUs (allreduce
  // only): zero-copy wins from 1 MiB (16.4 vs 23.6 us) and is 8 % slower at
  // 256 KiB (11.9 vs 11.0 us); allgather and reduce_scatter were not swept.
  if (gpus <= 2) return {2 * MiB, 4 * MiB, 4 * MiB};
  return {256 * KiB, 256 * KiB, 256 * KiB};
}

SizeByCollective ll_max_bytes_from_env(int gpus) {
  constexpr size_t KiB = 1024;
  const size_t most = ll_max_payload(gpus);
  if (auto bytes = bytes_unless_auto("WEFT_GPU_LL_MAX_BYTES")) {
    const size_t b = std::min(most, *bytes);
    return {b, b, b};
  }
  // Measured on H200s (bench/results/gpu.md, "LL in batches"). 2 GPUs
  // (graph, medians of 2): LL allreduce beats the push path up to 512 KiB
  // (8.1 vs 9.1 us; NCCL 9.7); allgather and reduce_scatter gain up to
  // 256 KiB per rank and tie or lose at 512 KiB (11.5 vs 10.6 us allgather).
  // More GPUs: 64 KiB, not swept beyond.
  if (gpus <= 2) return {std::min(most, 512 * KiB), 256 * KiB, 256 * KiB};
  return {64 * KiB, 64 * KiB, 64 * KiB};
}

}  // namespace weft::gpu
