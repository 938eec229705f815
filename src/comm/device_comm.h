// DeviceComm: the collectives of a communicator bound to a GPU.
//
// Communicator::init(.., {.device = Device::cuda(i)}) builds the host-memory
// communicator as usual (bootstrap, sockets: barrier, failure notification)
// and, beside it, a DeviceComm that runs the device-memory operations on the
// caller's stream. The CUDA implementation lives with the GPU kernels
// (src/coll/gpu/device_comm_cuda.cc); builds without CUDA link
// device_comm_none.cc, whose factory throws Unsupported.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weft/communicator.h"
#include "weft/error.h"

namespace weft {

class DeviceComm {
 public:
  virtual ~DeviceComm() = default;

  virtual Work allreduce(const void* in, void* out, size_t count, DataType type, ReduceOp op,
                         void* stream) = 0;
  virtual Work reduce(const void* in, void* out, size_t count, DataType type, ReduceOp op,
                      int root, void* stream) = 0;
  virtual Work broadcast(void* buf, size_t count, DataType type, int root, void* stream) = 0;
  virtual Work allgather(const void* in, void* out, size_t count, DataType type,
                         void* stream) = 0;
  virtual Work reduce_scatter(const void* in, void* out, size_t recv_count, DataType type,
                              ReduceOp op, void* stream) = 0;
  virtual Work alltoall(const void* in, void* out, size_t count, DataType type,
                        void* stream) = 0;
  virtual Work send(const void* buf, size_t count, DataType type, int peer, void* stream) = 0;
  virtual Work recv(void* buf, size_t count, DataType type, int peer, void* stream) = 0;

  virtual uint64_t register_buffer(const void* ptr, size_t bytes) = 0;
  virtual void deregister(uint64_t id) = 0;
  virtual void abort(const std::string& reason) = 0;
  // Fails every pending and later operation with `cause` (its code kept):
  // how one part of a composite communicator stops the others.
  virtual void fail(const Error& cause) = 0;
  // The failure that stopped this communicator, if any.
  virtual std::optional<Error> failure() const = 0;
};

struct DeviceCommSetup {
  int rank = 0;
  int size = 1;
  int device = 0;
  std::string name;  // store key prefix, distinct per communicator
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds init_timeout{0};
};

// Throws Unsupported in builds without CUDA.
std::unique_ptr<DeviceComm> make_device_comm(Store& store, const DeviceCommSetup& setup);

// Ranks on several hosts (`host_ids`: each rank's host identity): peer memory
// inside each host, device data staged through host memory over `host`'s
// sockets between hosts (src/staging). Collective over `host`'s ranks.
// Throws Unsupported in builds without CUDA.
std::unique_ptr<DeviceComm> make_multihost_device_comm(Communicator& host, Store& store,
                                                       const DeviceCommSetup& setup,
                                                       const std::vector<std::string>& host_ids);

}  // namespace weft
