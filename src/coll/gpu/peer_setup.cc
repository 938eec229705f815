// Setting up a GpuComm: scratch memory, device state, and registration of the
// scratch with every peer (the seed's flow, through ipc::RegistrationService).
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "coll/gpu/gpu_comm_impl.h"
#include "cuda/check.h"
#include "cuda/export.h"
#include "ipc/unix_socket.h"
#include "weft/cuda.h"
#include "weft/env.h"
#include "weft/log.h"
#include "weft/store.h"

namespace weft::gpu {
namespace {

std::string host_identity() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::string boot;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> boot;
  return std::string(host) + "/" + boot;
}

std::string key(const GpuCommConfig& c, const std::string& rest) { return c.name + "/gpu/" + rest; }

}  // namespace

GpuComm::Impl::Impl(Store& store, int rank_, int size_, const GpuCommConfig& config_)
    : rank(rank_), size(size_), config(config_) {
  WEFT_REQUIRE(size >= 1 && rank >= 0 && rank < size, "GpuComm: rank ", rank, " of ", size,
               " is out of range");
  if (size > kMaxRanks)
    throw_error(ErrorCode::Unsupported,
                str("rank ", rank, ": GPU collectives support up to ", kMaxRanks,
                    " GPUs of one host, not ", size));
  blocks = config.blocks > 0 ? config.blocks : static_cast<int>(env::get_int("WEFT_GPU_BLOCKS"));
  WEFT_REQUIRE(blocks >= 1 && blocks <= kMaxBlocks, "WEFT_GPU_BLOCKS must be in [1, ", kMaxBlocks,
               "], got ", blocks);
  try {
    setup_peers(store);
  } catch (...) {
    release_resources();
    throw;
  }
  start_watchdog();
}

void GpuComm::Impl::setup_peers(Store& store) {
  DeviceGuard guard(config.device);
  const std::string ctx = str("rank ", rank, ": GPU communicator init on device ", config.device);

  // Every rank must be on this host: peer-mapped memory does not cross hosts.
  const std::string me = host_identity();
  store.set(key(config, str("host/", rank)), std::string_view(me));
  for (int p = 0; p < size; ++p) {
    std::string theirs = store.get_string(key(config, str("host/", p)));
    if (theirs != me)
      throw_error(ErrorCode::Unsupported,
                  str(ctx, ": rank ", p, " is on another host (", theirs, " vs ", me,
                      "); GPU collectives across hosts are not supported yet"));
  }

  scratch_ = cuda::alloc(kScratchBytes);
  WEFT_CUDART(ctx, cudaMemset, scratch_, 0, kScratchBytes);
  WEFT_CUDART(ctx, cudaMalloc, reinterpret_cast<void**>(&epochs_), kEpochWords * sizeof(uint64_t));
  WEFT_CUDART(ctx, cudaMemset, epochs_, 0, kEpochWords * sizeof(uint64_t));
  WEFT_CUDART(ctx, cudaHostAlloc, reinterpret_cast<void**>(&host_words_), 2 * sizeof(int),
              cudaHostAllocMapped | cudaHostAllocPortable);
  host_words_[0] = host_words_[1] = 0;
  int* device_words = nullptr;
  WEFT_CUDART(ctx, cudaHostGetDevicePointer, reinterpret_cast<void**>(&device_words), host_words_, 0);
  WEFT_CUDART(ctx, cudaDeviceSynchronize);

  // A job-unique name for the services' sockets: rank 0 draws it.
  const std::string job_key = key(config, "job");
  if (rank == 0) {
    std::random_device rd;
    store.set(job_key, std::string_view(str(std::hex, (uint64_t(rd()) << 32) | rd())));
  }
  const std::string job = store.get_string(job_key);

  mapper_ = std::make_unique<cuda::CudaMapper>(config.device);
  service_ = std::make_unique<ipc::RegistrationService>(
      ipc::socket_address(job, rank, "gpu"), rank, *mapper_, ipc::OnPeerExit::keep_until_stop);
  store.set(key(config, str("svc/", rank)), std::string_view(service_->address()));

  // Ask every peer's service to map our scratch; tell the peer where it sees it.
  cuda::ExportedBuffer exported = cuda::export_buffer(scratch_);
  for (int p = 0; p < size; ++p) {
    if (p == rank) continue;
    std::string address = store.get_string(key(config, str("svc/", p)));
    auto client = std::make_unique<ipc::RegistrationClient>(address, rank, p, config.init_timeout);
    ipc::RemoteMapping mapping = client->import(exported.desc());
    store.set(key(config, str("view/", rank, "/", p)), std::string_view(std::to_string(mapping.address)));
    clients_[p] = std::move(client);
  }

  // User buffers: a registrar with its own connections to the same services.
  std::vector<reg::Registrar::Peer> peers;
  for (int p = 0; p < size; ++p)
    if (p != rank) peers.push_back({p, store.get_string(key(config, str("svc/", p)))});
  registrar_ = std::make_unique<reg::Registrar>(rank, exporter_, std::move(peers), config.init_timeout);
  zero_copy_min_bytes_ = zero_copy_min_bytes_from_env(size);
  two_shot_min_bytes_ = static_cast<size_t>(env::get_int("WEFT_GPU_TWO_SHOT_MIN_BYTES"));
  push_max_bytes_ = static_cast<size_t>(env::get_int("WEFT_GPU_PUSH_MAX_BYTES"));
  ll_max_bytes_ = ll_max_bytes_from_env(size);
  ll_block_threads_ = static_cast<int>(env::get_int("WEFT_GPU_LL_THREADS"));
  WEFT_REQUIRE(ll_block_threads_ >= 32 && ll_block_threads_ <= kThreads && ll_block_threads_ % 32 == 0, ctx,
               ": WEFT_GPU_LL_THREADS must be a multiple of 32 from 32 to ", kThreads, ", not ", ll_block_threads_);
  int major = 0;
  WEFT_CUDART(ctx, cudaDeviceGetAttribute, &major, cudaDevAttrComputeCapabilityMajor, config.device);
  dependent_launch_ = major >= 9 && env::get_bool("WEFT_GPU_PDL");
  preload_p2p_kernels();

  view.rank = rank;
  view.nranks = size;
  view.epochs = epochs_;
  view.abort_flag = device_words;
  view.status = device_words + 1;
  view.scratch[rank] = static_cast<char*>(scratch_);
  for (int p = 0; p < size; ++p) {
    if (p == rank) continue;
    view.scratch[p] = reinterpret_cast<char*>(
        std::stoull(store.get_string(key(config, str("view/", p, "/", rank)))));
  }

  // Nobody launches before everybody has mapped everybody.
  store.set(key(config, str("ready/", rank)), std::string_view("1"));
  std::vector<std::string> ready;
  for (int p = 0; p < size; ++p) ready.push_back(key(config, str("ready/", p)));
  store.wait(ready, config.init_timeout);
  WEFT_INFO("gpu", "GPU communicator ready: rank ", rank, "/", size, " on device ", config.device,
            ", ", blocks, " blocks x ", kThreads, " threads per kernel, scratch ",
            kScratchBytes >> 20, " MiB mapped by ", size - 1, " peer(s) via ", mapper_->name(),
            " IPC (", to_string(exported.kind), "); LL up to ", ll_max_bytes_.allreduce >> 10, " KiB (allreduce), ", ll_max_bytes_.allgather >> 10,
            " KiB per rank (allgather), ", ll_max_bytes_.reduce_scatter >> 10, " KiB per rank (reduce_scatter) in blocks of <= ",
            ll_block_threads_, " threads, ", dependent_launch_ ? "launched as programmatic dependents" : "ordinary launches");
}

void GpuComm::Impl::release_resources() noexcept {
  // Clients first (our scratch stays mapped on peers until they stop: the
  // services keep departed peers' mappings), then our service (unmaps the
  // peers' scratch here; our device is idle by now), then memory.
  registrar_.reset();  // peers unmap our user buffers
  clients_.clear();
  if (service_) service_->stop();
  service_.reset();
  mapper_.reset();
  try {
    if (scratch_) cuda::free(scratch_);
  } catch (const std::exception& e) {
    WEFT_WARN("gpu", "freeing GPU scratch failed: ", e.what());
  }
  if (epochs_) cudaFree(epochs_);
  if (host_words_) cudaFreeHost(host_words_);
  scratch_ = nullptr;
  epochs_ = nullptr;
  host_words_ = nullptr;
}

}  // namespace weft::gpu
