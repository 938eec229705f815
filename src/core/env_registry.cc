// The registry of every WEFT_* environment variable. Add new variables here,
// keep the list sorted, one line of doc each: `weft-info --env` prints this.
#include "core/env_registry.h"

namespace weft::env {

const std::vector<Variable>& registry_table() {
  static const std::vector<Variable> table = {
      {"WEFT_ALGO", "auto", "Force a collective algorithm (auto lets the planner choose)"},
      {"WEFT_CPU_BIND", "1",
       "Bind each local rank's worker thread (and a waiting thread while it runs collectives) to its own CPU when there are enough"},
      {"WEFT_CPU_ISA", "auto", "Reduction kernel level: auto, portable, avx2 or avx512 (never above the CPU)"},
      {"WEFT_DEBUG", "WARN", "Log level: NONE, WARN, INFO or TRACE"},
      {"WEFT_DEBUG_FILE", "", "Write logs to this file instead of stderr (%h = host, %p = pid)"},
      {"WEFT_DEBUG_SUBSYS", "ALL", "Comma list of subsystems to log (ALL, or ^name to exclude)"},
      {"WEFT_DUMP_ON_ERROR", "0", "Dump the recent-operation ring buffer to the log on any error"},
      {"WEFT_GPU_BLOCKS", "32", "Thread blocks (one per SM) each GPU collective kernel uses"},
      {"WEFT_GPU_LL_MAX_BYTES", "auto",
       "Largest GPU allreduce (bytes) and allgather / reduce_scatter (bytes per rank) that use the LL protocol "
       "(at most 1 MiB / GPUs); auto: on 2 GPUs 512 KiB allreduce, 256 KiB allgather and reduce_scatter; 64 KiB on more"},
      {"WEFT_GPU_LL_THREADS", "256",
       "Threads per block of the LL kernels at most (a multiple of 32 up to 512); smaller spreads a message over more blocks"},
      {"WEFT_GPU_PDL", "1",
       "Launch the small-message (LL) kernels as programmatic dependents of the stream's previous kernel "
       "(Hopper+), so their launch overlaps its tail; 0 = ordinary launches"},
      {"WEFT_GPU_PUSH_MAX_BYTES", "1048576",
       "Largest GPU collective (bytes per rank) that pushes into peers' scratch instead of pulling (reduce_scatter always pushes)"},
      {"WEFT_GPU_TWO_SHOT_MIN_BYTES", "1048576",
       "Smallest unregistered allreduce (bytes) that runs two-shot instead of one-shot"},
      {"WEFT_GPU_ZERO_COPY_MIN_BYTES", "auto",
       "Smallest GPU allreduce / allgather / reduce_scatter (bytes of its largest buffer) that runs zero-copy when its buffers are registered; auto: the table measured per GPU count"},
      {"WEFT_HIER_SPLIT_MIN_BYTES", "1048576",
       "Smallest multi-host GPU allreduce (bytes) that splits into reduce_scatter / allreduce / allgather"},
      {"WEFT_HOST_ID", "", "Override the host identity (for tests that fake several hosts)"},
      {"WEFT_IPC_SOCKET_DIR", "", "Directory for IPC unix sockets (unset: Linux abstract namespace)"},
      {"WEFT_MULTIHOST", "auto", "GPUs on several hosts: auto, flat (staged over every rank) or hier"},
      {"WEFT_NSOCKS", "2", "Parallel TCP streams per peer for large messages"},
      {"WEFT_P2P_DISABLE", "0", "Disable CUDA peer-to-peer transports"},
      {"WEFT_PROTO", "auto", "Force a protocol (auto lets the planner choose)"},
      {"WEFT_RUN_KILL_GRACE_S", "3", "weftrun: seconds between SIGTERM and SIGKILL when stopping workers"},
      {"WEFT_SHM_CHUNK_BYTES", "0", "Bytes each rank moves through shared memory per pipeline step (0: by rank count)"},
      {"WEFT_SHM_CMA", "1", "Let shm collectives read peers' buffers directly (process_vm_readv, one copy) where the init probe shows it works"},
      {"WEFT_SHM_YIELD_US", "200", "When local ranks outnumber CPUs, shm collective waits yield the CPU (sched_yield) for this many microseconds after spinning, before they sleep on a futex"},
      {"WEFT_SHM_CMA_CALIBRATE", "1", "At init, time the single copy's kernel copy against a copy through the shared segment and use the single copy only where it is faster (0: wherever the probe shows it works)"},
      {"WEFT_SHM_CMA_COPY_MIN_BYTES", "16384", "Shm allgather and broadcast read peers' buffers directly from this many bytes per peer, or from WEFT_SHM_CMA_MIN_BYTES if smaller (that alone when local ranks outnumber CPUs)"},
      {"WEFT_SHM_CMA_MIN_BYTES", "131072", "Shm collectives read peers' buffers directly when each rank reads at least this many bytes from each peer"},
      {"WEFT_SHM_DISABLE", "0", "Disable the shared-memory transport"},
      {"WEFT_SHM_RING_BYTES", "0", "Bytes of each shared-memory point-to-point ring per rank pair (0: by rank count)"},
      {"WEFT_SOCKET_IFNAME", "", "Interfaces to use: prefix list, ^exclude, =exact (NCCL syntax)"},
      {"WEFT_STAGE_CHUNK_BYTES", "1048576", "Bytes per chunk GPU data is staged through pinned host memory in, across hosts"},
      {"WEFT_STAGE_SLOTS", "8", "Chunks in flight when staging GPU data through host memory"},
      {"WEFT_STORE_CONNECT_TIMEOUT_S", "60", "How long a store client keeps retrying to connect"},
      {"WEFT_STORE_HANDSHAKE_TIMEOUT_S", "30", "Store server closes clients that have not validated by then"},
      {"WEFT_STORE_MAX_VALUE_BYTES", "268435456", "Largest value the store server accepts (bytes)"},
      {"WEFT_STORE_TIMEOUT_S", "300", "Default timeout of blocking store operations (get, wait)"},
      {"WEFT_STORE_TOKEN", "", "Shared secret clients must present to the store server"},
      {"WEFT_TIMEOUT_S", "600", "Default timeout of collective operations"},
  };
  return table;
}

}  // namespace weft::env
