// StreamOps on CUDA: cudaMemcpy2DAsync for the copies, cudaMallocAsync for
// scratch, page-locked mapped host memory for the slots and words, and
// one-thread kernels that store or spin on a word (so signalling needs no
// host callback and waiting costs one block, not a host round trip).
#pragma once

#include <memory>

#include "staging/stream_ops.h"

namespace weft::staging {

// Throws Unsupported in builds without CUDA.
std::shared_ptr<StreamOps> make_cuda_stream_ops(int device);

}  // namespace weft::staging
