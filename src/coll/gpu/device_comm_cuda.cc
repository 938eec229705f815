// The CUDA DeviceComm: weft::Communicator's device-memory operations on a
// GpuComm, each GpuOp wrapped in a Work that polls the device when asked.
#include "coll/gpu/gpu_comm.h"
#include "comm/device_comm.h"
#include "comm/work_state.h"
#include "staging/cuda_stream_ops.h"
#include "staging/hier_comm.h"

namespace weft {
namespace {

cudaStream_t to_stream(void* stream) { return static_cast<cudaStream_t>(stream); }

Work to_work(gpu::GpuOp op) {
  auto state = std::make_shared<Work::State>(op.describe());
  state->set_poller([op] { return op.test(); });
  return Work(std::move(state));
}

class CudaDeviceComm final : public DeviceComm {
 public:
  CudaDeviceComm(Store& store, const DeviceCommSetup& s) : gpu_(store, s.rank, s.size, config(s)) {}

  Work allreduce(const void* in, void* out, size_t count, DataType type, ReduceOp op,
                 void* stream) override {
    return to_work(gpu_.allreduce(in, out, count, type, op, to_stream(stream)));
  }
  Work reduce(const void* in, void* out, size_t count, DataType type, ReduceOp op, int root,
              void* stream) override {
    return to_work(gpu_.reduce(in, out, count, type, op, root, to_stream(stream)));
  }
  Work broadcast(void* buf, size_t count, DataType type, int root, void* stream) override {
    return to_work(gpu_.broadcast(buf, buf, count, type, root, to_stream(stream)));
  }
  Work allgather(const void* in, void* out, size_t count, DataType type, void* stream) override {
    return to_work(gpu_.allgather(in, out, count, type, to_stream(stream)));
  }
  Work reduce_scatter(const void* in, void* out, size_t recv_count, DataType type, ReduceOp op,
                      void* stream) override {
    return to_work(gpu_.reduce_scatter(in, out, recv_count, type, op, to_stream(stream)));
  }
  Work alltoall(const void* in, void* out, size_t count, DataType type, void* stream) override {
    return to_work(gpu_.alltoall(in, out, count, type, to_stream(stream)));
  }
  Work send(const void* buf, size_t count, DataType type, int peer, void* stream) override {
    return to_work(gpu_.send(buf, count, type, peer, to_stream(stream)));
  }
  Work recv(void* buf, size_t count, DataType type, int peer, void* stream) override {
    return to_work(gpu_.recv(buf, count, type, peer, to_stream(stream)));
  }
  uint64_t register_buffer(const void* ptr, size_t bytes) override {
    return gpu_.register_buffer(ptr, bytes);
  }
  void deregister(uint64_t id) override { gpu_.deregister(id); }
  void abort(const std::string& reason) override { gpu_.abort(reason); }
  void fail(const Error& cause) override { gpu_.fail(cause); }
  std::optional<Error> failure() const override { return gpu_.failure(); }

 private:
  static gpu::GpuCommConfig config(const DeviceCommSetup& s) {
    gpu::GpuCommConfig c;
    c.device = s.device;
    c.timeout = s.timeout;
    c.init_timeout = s.init_timeout;
    c.name = s.name;
    return c;
  }

  gpu::GpuComm gpu_;
};

}  // namespace

std::unique_ptr<DeviceComm> make_device_comm(Store& store, const DeviceCommSetup& setup) {
  return std::make_unique<CudaDeviceComm>(store, setup);
}

std::unique_ptr<DeviceComm> make_multihost_device_comm(Communicator& host, Store& store,
                                                       const DeviceCommSetup& setup,
                                                       const std::vector<std::string>& host_ids) {
  staging::MultiHostParts parts;
  parts.ops = staging::make_cuda_stream_ops(setup.device);
  parts.make_intra = [&store, setup](Communicator&, int host_index, int local_rank, int local_size) {
    DeviceCommSetup local = setup;
    local.rank = local_rank;
    local.size = local_size;
    local.name = str(setup.name, "/host", host_index);
    return make_device_comm(store, local);
  };
  return staging::make_multihost_device_comm(host, staging::HostLayout::from_host_ids(host_ids),
                                             parts, staging::StagingConfig::from_env(setup.timeout));
}

}  // namespace weft
