// HostDeviceComm: the communicator "inside a host" standing in for NVLink in
// the CPU tests of the staging layer. Each operation is a task on the
// caller's HostStream that runs the host collective over a host-memory
// communicator and waits for it, so it is ordered with the staged steps on
// the same stream exactly as a GPU kernel would be.
#pragma once

#include <memory>
#include <mutex>

#include "comm/comm_impl.h"
#include "comm/device_comm.h"
#include "comm/work_state.h"
#include "staging/host_stream.h"
#include "transport/transport.h"

namespace weft::test {

class HostDeviceComm final : public DeviceComm {
 public:
  HostDeviceComm(Communicator comm, std::shared_ptr<staging::HostStreamOps> ops)
      : comm_(std::move(comm)), ops_(std::move(ops)) {}

  Work allreduce(const void* in, void* out, size_t n, DataType t, ReduceOp op, void* s) override {
    return run("allreduce", s, [=, this] { return comm_.allreduce(in, out, n, t, op); });
  }
  Work reduce(const void* in, void* out, size_t n, DataType t, ReduceOp op, int root,
              void* s) override {
    return run("reduce", s, [=, this] { return comm_.reduce(in, out, n, t, op, root); });
  }
  Work broadcast(void* buf, size_t n, DataType t, int root, void* s) override {
    return run("broadcast", s, [=, this] { return comm_.broadcast(buf, n, t, root); });
  }
  Work allgather(const void* in, void* out, size_t n, DataType t, void* s) override {
    return run("allgather", s, [=, this] { return comm_.allgather(in, out, n, t); });
  }
  Work reduce_scatter(const void* in, void* out, size_t n, DataType t, ReduceOp op,
                      void* s) override {
    return run("reduce_scatter", s, [=, this] { return comm_.reduce_scatter(in, out, n, t, op); });
  }
  Work alltoall(const void* in, void* out, size_t n, DataType t, void* s) override {
    return run("alltoall", s, [=, this] { return comm_.alltoall(in, out, n, t); });
  }
  Work send(const void* buf, size_t n, DataType t, int peer, void* s) override {
    return run("send", s, [=, this] { return comm_.send(buf, n, t, peer); });
  }
  Work recv(void* buf, size_t n, DataType t, int peer, void* s) override {
    return run("recv", s, [=, this] { return comm_.recv(buf, n, t, peer); });
  }
  uint64_t register_buffer(const void*, size_t) override { return 0; }
  void deregister(uint64_t) override {}
  void abort(const std::string& reason) override {
    fail(Error(ErrorCode::Aborted, "intra-host stand-in aborted: " + reason));
  }
  void fail(const Error& cause) override {
    {
      std::lock_guard lock(mu_);
      if (failure_) return;
      failure_ = cause;
    }
    comm_.impl().transport().fail(cause.code(), cause.message());
  }
  std::optional<Error> failure() const override {
    std::lock_guard lock(mu_);
    return failure_;
  }

 private:
  template <typename Op>
  Work run(const char* name, void* stream, Op op) {
    if (auto f = failure()) throw *f;
    auto state = std::make_shared<Work::State>(str("intra-host ", name));
    ops_->stream_of(stream).enqueue([this, op] {
      if (failure()) return;
      try {
        op().wait();
      } catch (const Error& e) {
        fail(e);
      }
    });
    auto marker = ops_->marker(stream, name);
    state->set_poller([this, marker] {
      const bool done = marker();
      if (auto f = failure()) throw *f;
      return done;
    });
    return Work(state);
  }

  Communicator comm_;
  std::shared_ptr<staging::HostStreamOps> ops_;
  mutable std::mutex mu_;
  std::optional<Error> failure_;
};

}  // namespace weft::test
