// Where a GPU collective with registered buffers switches from the copy path
// (through weft's scratch) to zero-copy (reading and writing the peers'
// buffers). Zero-copy pays a fixed cost (two barrier exchanges across the
// peers) that the copy path does not, so it wins only from a size that
// depends on the collective and on the number of GPUs.
#pragma once

#include <cstddef>

#include "coll/gpu/kernel_args.h"

namespace weft::gpu {

struct ZeroCopyThresholds {
  size_t allreduce = 0;       // bytes of the buffer
  size_t allgather = 0;       // bytes of the output (every rank's block)
  size_t reduce_scatter = 0;  // bytes of the input (every rank's block)

  // The threshold for `kind` (allreduce, allgather or reduce_scatter).
  size_t of(CollKind kind) const;

  // WEFT_GPU_ZERO_COPY_MIN_BYTES: a number sets all three; "auto" (the
  // default) takes the table measured for `gpus` GPUs.
  static ZeroCopyThresholds from_env(int gpus);
};

// The largest allreduce / allgather / reduce_scatter (bytes per rank) that
// uses LL. LL's 16-byte lines carry 8 payload bytes, so it doubles the
// NVLink traffic in exchange for having no barrier: it pays while the
// message is small next to a barrier's cost, less so with more peers to
// write to. WEFT_GPU_LL_MAX_BYTES: a number (at most kLLMaxBytes), or
// "auto" (the default): the table measured for `gpus` GPUs.
size_t ll_max_bytes_from_env(int gpus);

}  // namespace weft::gpu
