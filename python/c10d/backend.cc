// WeftBackend: construction, lifetime, point-to-point and barrier. The
// collectives are in collectives.cc.
#include "backend.h"

#include <c10/core/impl/VirtualGuardImpl.h>
#include <c10/util/Exception.h>

#include "store_adapter.h"
#include "tensors.h"
#include "weft/error.h"

namespace weft::c10d_ext {

WeftBackend::WeftBackend(const c10::intrusive_ptr<::c10d::Store>& store, int rank, int size,
                         std::chrono::milliseconds timeout, const std::string& group)
    : ::c10d::Backend(rank, size),
      store_(std::make_shared<TorchStore>(store)),
      timeout_(timeout) {
  issuing("init", [&] {
    // torch already prefixes the group's store with the group's name; a name
    // reused after destroy_process_group() meets the old keys, so every
    // incarnation of the group gets its own generation.
    const int64_t generation = (store_->add("weft_cpp/generation", 1) - 1) / size;
    name_ = str("weft_cpp/", generation);
    CommOptions options;
    options.timeout = timeout;
    options.init_timeout = timeout;
    options.name = name_;
    comm_.emplace(Communicator::init(*store_, rank, size, options));
  });
  completer_ = std::make_unique<Completer>("weft_cpp:" + group);
}

WeftBackend::~WeftBackend() { shutdown(); }

void WeftBackend::shutdown() {
  if (completer_) {
    completer_->stop();  // completes what was issued (bounded by weft's timeouts)
  }
  cuda_comm_.reset();
  comm_.reset();
}

void WeftBackend::abort() {
  if (comm_) {
    comm_->abort();
  }
  std::lock_guard<std::mutex> lock(cuda_mu_);
  if (cuda_comm_) {
    cuda_comm_->abort();
  }
}

Communicator& WeftBackend::comm() {
  if (!comm_) {
    C10_THROW_ERROR(DistBackendError, "weft_cpp: the process group was shut down");
  }
  return *comm_;
}

Communicator& WeftBackend::cuda_comm(const char* op, c10::Device device) {
  comm();  // not shut down
  std::lock_guard<std::mutex> lock(cuda_mu_);
  if (!cuda_comm_) {
    // The host communicator's options, on this GPU. Collective: the other
    // ranks get here at their first CUDA operation too.
    CommOptions options;
    options.device = Device::cuda(device.index());
    options.timeout = options.init_timeout = timeout_;
    options.name = name_ + "/cuda";
    cuda_comm_.emplace(Communicator::init(*store_, getRank(), getSize(), options));
  }
  const int gpu = cuda_comm_->device().index;
  TORCH_CHECK_VALUE(device.index() == gpu, "weft_cpp: ", op, ": a tensor on ", device,
                    ", but this process's group runs on cuda:", gpu, " (one GPU per process: "
                    "the device of the group's first CUDA tensor)");
  return *cuda_comm_;
}

Target WeftBackend::target(const char* op, const std::vector<at::Tensor>& tensors,
                           std::chrono::milliseconds timeout) {
  Target where;
  where.options = op_options(timeout);
  const at::Tensor* first = nullptr;
  for (const auto& t : tensors) {
    if (!t.defined()) {
      continue;  // check_tensor names it
    }
    if (first == nullptr) {
      first = &t;
    } else if (t.device() != first->device()) {
      C10_THROW_ERROR(ValueError, c10::str("weft_cpp: ", op, ": tensors on ", first->device(),
                                           " and ", t.device(), " in one operation"));
    }
  }
  if (first == nullptr || first->device().is_cpu()) {
    where.comm = &comm();
    return where;
  }
  const c10::Device device = first->device();
  if (!device.is_cuda()) {
    C10_THROW_ERROR(NotImplementedError,
                    c10::str("weft_cpp: ", op, ": a tensor on ", device,
                             ": backend weft_cpp takes CPU and CUDA tensors"));
  }
  where.comm = &cuda_comm(op, device);
  where.device = device;
  // torch's current stream on that GPU: the op runs after what the caller
  // enqueued there, and later work on it runs after the op.
  const c10::impl::VirtualGuardImpl cuda(c10::DeviceType::CUDA);
  where.options.stream = cuda.getStream(device).native_handle();
  return where;
}

void WeftBackend::host_only(const Target& where, const char* what) {
  if (where.cuda()) {
    C10_THROW_ERROR(NotImplementedError,
                    c10::str("weft_cpp: ", what, " on CUDA tensors is not supported: weft's CUDA "
                             "communicator has no allgatherv, alltoallv, gather or scatter (use "
                             "CPU tensors for it, or equal sizes)"));
  }
}

OpOptions WeftBackend::op_options(std::chrono::milliseconds timeout) {
  OpOptions options;
  if (timeout > std::chrono::milliseconds(0)) {
    options.timeout = timeout;  // kUnsetTimeout (-1): the communicator's own
  }
  return options;
}

c10::intrusive_ptr<WeftWork> WeftBackend::make_work(::c10d::OpType type, const char* op,
                                                    std::vector<at::Tensor> outputs,
                                                    const Target& where) {
  return c10::make_intrusive<WeftWork>(getRank(), type, op, std::move(outputs), where.device);
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::launch(c10::intrusive_ptr<WeftWork> work) {
  if (work->cuda()) {
    work->enqueued();
  }
  completer_->submit(work);
  return work;
}

namespace {

constexpr std::chrono::milliseconds kNoTimeout{0};  // the communicator's own

uint32_t check_tag(const char* op, int tag) {
  TORCH_CHECK_VALUE(tag >= 0, "weft_cpp: ", op, ": tag ", tag, " is negative");
  return static_cast<uint32_t>(tag);
}

void check_peer(const char* op, int peer, int size) {
  TORCH_CHECK_VALUE(peer >= 0 && peer < size, "weft_cpp: ", op, ": peer rank ", peer,
                    " is outside the group of ", size);
}

}  // namespace

c10::intrusive_ptr<::c10d::Work> WeftBackend::point_to_point(bool is_send,
                                                             std::vector<at::Tensor>& tensors,
                                                             int peer, int tag) {
  const char* op = is_send ? "send" : "recv";
  return issuing(op, [&] {
    const uint32_t t = check_tag(op, tag);
    check_peer(op, peer, getSize());
    const Target where = target(op, tensors, kNoTimeout);
    auto work = make_work(is_send ? ::c10d::OpType::SEND : ::c10d::OpType::RECV, op, tensors,
                          where);
    for (const auto& tensor : tensors) {
      const DataType type = check_tensor(op, tensor);
      at::Tensor buf = stage(*work, tensor, /*write=*/!is_send);
      work->add(is_send ? where.comm->send(buf.data_ptr(), buf.numel(), type, peer, t,
                                           where.options)
                        : where.comm->recv(buf.data_ptr(), buf.numel(), type, peer, t,
                                           where.options));
    }
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::send(std::vector<at::Tensor>& tensors, int dst,
                                                   int tag) {
  return point_to_point(true, tensors, dst, tag);
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::recv(std::vector<at::Tensor>& tensors, int src,
                                                   int tag) {
  return point_to_point(false, tensors, src, tag);
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::recvAnysource(std::vector<at::Tensor>&, int) {
  C10_THROW_ERROR(NotImplementedError,
                  "weft_cpp: recv from any source is not supported (weft's recv names its "
                  "peer): pass src=");
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::barrier(const ::c10d::BarrierOptions& opts) {
  return issuing("barrier", [&] {
    // On the host communicator even in a CUDA group: a barrier synchronizes
    // processes (as NCCL's, whose wait() blocks the host).
    const Target where = target("barrier", {}, opts.timeout);
    auto work = make_work(::c10d::OpType::BARRIER, "barrier", {}, where);
    work->add(where.comm->barrier(where.options));
    return launch(work);
  });
}

}  // namespace weft::c10d_ext
