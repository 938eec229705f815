// NCCL as a comparator (issue 7): one process per GPU (device LOCAL_RANK),
// the same sizes and checks as every runner, device buffers, calls enqueued
// on one stream and synchronized once per batch (as nccl-tests times them),
// or with --graph each batch captured into a CUDA graph and replayed.
// weft-perf starts these processes with NCCL_NVLS_ENABLE=0 (NVLink multicast
// is forbidden on the lent machines); rank and world come from RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT, and the ranks
// exchange NCCL's unique id and run their barriers through weft's store and
// a weft host communicator.
//
// Without CUDA (WEFT_CUDA=OFF) both functions throw Unsupported.
#pragma once

#include <memory>
#include <string>

#include "runner.h"

namespace weft::perf {

// In a rank process started by weft-perf --compare nccl.
std::unique_ptr<Runner> make_nccl_runner(const std::string& nccl_lib, bool graph);

// In the driver, before any process starts: NCCL loads (see NcclApi) and
// there is one CUDA device per rank. Throws Unsupported, e.g.
//   nccl: needs 2 CUDA devices (one process per GPU), found 0
void nccl_preflight(const std::string& nccl_lib, int nranks);

}  // namespace weft::perf
