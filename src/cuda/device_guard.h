// DeviceGuard: makes a GPU current for a scope and restores the caller's.
#pragma once

#include <cuda_runtime_api.h>

#include "cuda/check.h"

namespace weft::cuda {

class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    WEFT_CUDART("DeviceGuard", cudaGetDevice, &previous_);
    if (previous_ != device) WEFT_CUDART(str("DeviceGuard: GPU ", device), cudaSetDevice, device);
  }
  ~DeviceGuard() {
    int current = -1;
    if (cudaGetDevice(&current) == cudaSuccess && current != previous_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace weft::cuda
