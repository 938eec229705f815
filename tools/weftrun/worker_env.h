// The environment a worker starts with: the launcher's own environment plus
// the torchrun variables (RANK, LOCAL_RANK, WORLD_SIZE, ... MASTER_ADDR/PORT
// pointing at the store the agent hosts, TORCHELASTIC_USE_AGENT_STORE=True so
// torch's env:// init joins that store instead of starting its own) and weft's
// WEFT_RUN_ID / WEFT_RESTART_COUNT.
#pragma once

#include <map>
#include <string>

namespace weftrun {

// Where one worker sits in the job.
struct WorkerPlace {
  int rank = 0;
  int local_rank = 0;
  int world_size = 1;
  int local_world_size = 1;
  int group_rank = 0;        // node rank
  int group_world_size = 1;  // number of nodes
};

// The run-wide values every worker of a round shares.
struct RunInfo {
  std::string run_id;
  int restart_count = 0;
  int max_restarts = 0;
  std::string master_addr;  // the rendezvous store
  int master_port = 0;
};

using Environment = std::map<std::string, std::string>;

// The launcher's environment (environ) as a map.
Environment current_environment();

// `base` with the worker's variables set. OMP_NUM_THREADS becomes 1 unless
// `base` sets it; CUDA_VISIBLE_DEVICES is left as it is.
Environment worker_environment(const Environment& base, const WorkerPlace& place, const RunInfo& run);

}  // namespace weftrun
