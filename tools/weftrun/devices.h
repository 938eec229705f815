// How many workers "--nproc-per-node gpu|cpu|auto" means on this machine.
#pragma once

#include <optional>
#include <string>

namespace weftrun {

// GPUs this process may use, without initialising CUDA (the launcher must not
// hold a CUDA context): CUDA_VISIBLE_DEVICES when set (entries up to the first
// invalid one, as the CUDA runtime reads it), else the entries of
// /proc/driver/nvidia/gpus, else the lines of `nvidia-smi -L`. 0 when none.
int visible_gpu_count();

// Parses a CUDA_VISIBLE_DEVICES value; exposed for tests.
int count_cuda_visible_devices(const std::string& value);

// CPUs this process may run on (its affinity mask), at least 1.
int usable_cpu_count();

}  // namespace weftrun
