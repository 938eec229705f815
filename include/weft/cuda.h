// Device memory that other processes can map zero-copy (available when weft
// was built with CUDA: WEFT_WITH_CUDA is defined).
//
// alloc() returns memory from cuMemCreate with the POSIX-file-descriptor
// handle type, its size rounded up to the device's recommended allocation
// granularity, mapped read-write for the current device. Such memory can be
// exported as a file descriptor and mapped by a peer process (see the
// registration layer); plain cudaMalloc memory can only be shared through the
// slower legacy CUDA IPC path.
#pragma once

#include <cstddef>

namespace weft::cuda {

// Allocates at least `bytes` on the current CUDA device. Throws
// InvalidArgument for 0 bytes, CudaError when CUDA refuses.
void* alloc(size_t bytes);

// Frees memory from alloc() (null is a no-op). Synchronizes the device first,
// like cudaFree, so kernels still using the memory finish before it goes.
// Throws InvalidArgument for a pointer that alloc() did not return.
void free(void* ptr);

// The size alloc() rounds to on `device` (recommended granularity).
size_t allocation_granularity(int device);

}  // namespace weft::cuda
