// The GPU runners: one process per GPU (device LOCAL_RANK), device buffers,
// calls enqueued on one stream and synchronized once per batch (as
// nccl-tests times them), or with --graph each batch captured into a CUDA
// graph before timing and replayed. Rank and world come from RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT (weft-perf's driver
// sets them); barriers and the sums of timings and wrong counts go through a
// weft host-memory communicator beside the measured one.
//
//   weft  weft::Communicator on Device::cuda(LOCAL_RANK), operations on the
//         runner's stream (OpOptions::stream); --register registers both
//         buffers, so weft reads and writes the peers' buffers directly
//   nccl  NCCL through dlopen (nccl_api.h); weft-perf starts its processes
//         with NCCL_NVLS_ENABLE=0 (NVLink multicast is forbidden on the lent
//         machines)
//
// Without CUDA (WEFT_CUDA=OFF) every function here throws Unsupported.
#pragma once

#include <memory>
#include <string>

#include "runner.h"

namespace weft::perf {

// In rank processes started by weft-perf --np N -g / --compare nccl.
std::unique_ptr<Runner> make_weft_gpu_runner(bool graph, bool register_buffers);
std::unique_ptr<Runner> make_nccl_runner(const std::string& nccl_lib, bool graph);

// In the driver, before any process starts. Throws Unsupported:
//   nccl: cannot load ... (see NcclApi)
void nccl_preflight(const std::string& nccl_lib);
//   GPU runs need 2 CUDA devices (one process per GPU), found 0
void gpu_preflight(int nranks);

}  // namespace weft::perf
