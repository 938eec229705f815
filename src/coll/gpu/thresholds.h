// Size thresholds that pick a GPU collective's algorithm, per collective
// and number of GPUs, measured on H200s (bench/results/gpu.md) and
// overridable from the environment.
#pragma once

#include <cstddef>

#include "coll/gpu/kernel_args.h"

namespace weft::gpu {

// One size for each collective that has more than one algorithm.
struct SizeByCollective {
  size_t allreduce = 0;
  size_t allgather = 0;
  size_t reduce_scatter = 0;

  // The size for `kind` (allreduce, allgather or reduce_scatter; 0 for others).
  size_t of(CollKind kind) const;
};

// Where a collective with registered buffers switches from the copy path
// (through weft's scratch) to zero-copy (reading and writing the peers'
// buffers), in bytes of the larger buffer (allgather: the output,
// reduce_scatter: the input). Zero-copy pays a fixed cost (two barrier
// exchanges across the peers) that the copy path does not, so it wins only
// from a size that depends on the collective and on the number of GPUs.
// WEFT_GPU_ZERO_COPY_MIN_BYTES: a number sets all three; "auto" (the
// default) takes the table measured for `gpus` GPUs.
SizeByCollective zero_copy_min_bytes_from_env(int gpus);

// The largest allreduce (bytes of the buffer) and allgather / reduce_scatter
// (bytes per rank) that use LL. LL's 16-byte lines carry 8 payload bytes, so
// it doubles the NVLink traffic in exchange for having no barrier: it pays
// while the message is small next to a barrier's cost, less so with more
// peers to write to. WEFT_GPU_LL_MAX_BYTES: a number sets all three (at most
// ll_max_payload(gpus)); "auto" (the default): the table measured for
// `gpus` GPUs.
SizeByCollective ll_max_bytes_from_env(int gpus);

}  // namespace weft::gpu
