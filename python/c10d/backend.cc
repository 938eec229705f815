// WeftBackend: construction, lifetime, point-to-point and barrier. The
// collectives are in collectives.cc.
#include "backend.h"

#include <c10/util/Exception.h>

#include "store_adapter.h"
#include "tensors.h"
#include "weft/error.h"

namespace weft::c10d_ext {

WeftBackend::WeftBackend(const c10::intrusive_ptr<::c10d::Store>& store, int rank, int size,
                         std::chrono::milliseconds timeout, const std::string& group)
    : ::c10d::Backend(rank, size), store_(std::make_shared<TorchStore>(store)) {
  issuing("init", [&] {
    // torch already prefixes the group's store with the group's name; a name
    // reused after destroy_process_group() meets the old keys, so every
    // incarnation of the group gets its own generation.
    const int64_t generation = (store_->add("weft_cpp/generation", 1) - 1) / size;
    CommOptions options;
    options.timeout = timeout;
    options.init_timeout = timeout;
    options.name = str("weft_cpp/", generation);
    comm_.emplace(Communicator::init(*store_, rank, size, options));
  });
  completer_ = std::make_unique<Completer>("weft_cpp:" + group);
}

WeftBackend::~WeftBackend() { shutdown(); }

void WeftBackend::shutdown() {
  if (completer_) {
    completer_->stop();  // completes what was issued (bounded by weft's timeouts)
  }
  comm_.reset();
}

void WeftBackend::abort() {
  if (comm_) {
    comm_->abort();
  }
}

Communicator& WeftBackend::comm() {
  if (!comm_) {
    C10_THROW_ERROR(DistBackendError, "weft_cpp: the process group was shut down");
  }
  return *comm_;
}

OpOptions WeftBackend::op_options(std::chrono::milliseconds timeout) {
  OpOptions options;
  if (timeout > std::chrono::milliseconds(0)) {
    options.timeout = timeout;  // kUnsetTimeout (-1): the communicator's own
  }
  return options;
}

c10::intrusive_ptr<WeftWork> WeftBackend::make_work(::c10d::OpType type, const char* op,
                                                    std::vector<at::Tensor> outputs) {
  return c10::make_intrusive<WeftWork>(getRank(), type, op, std::move(outputs));
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::launch(c10::intrusive_ptr<WeftWork> work) {
  completer_->submit(work);
  return work;
}

namespace {

uint32_t check_tag(const char* op, int tag) {
  TORCH_CHECK_VALUE(tag >= 0, "weft_cpp: ", op, ": tag ", tag, " is negative");
  return static_cast<uint32_t>(tag);
}

void check_peer(const char* op, int peer, int size) {
  TORCH_CHECK_VALUE(peer >= 0 && peer < size, "weft_cpp: ", op, ": peer rank ", peer,
                    " is outside the group of ", size);
}

}  // namespace

c10::intrusive_ptr<::c10d::Work> WeftBackend::send(std::vector<at::Tensor>& tensors, int dst,
                                                   int tag) {
  return issuing("send", [&] {
    const uint32_t t = check_tag("send", tag);
    check_peer("send", dst, getSize());
    auto work = make_work(::c10d::OpType::SEND, "send", tensors);
    for (const auto& tensor : tensors) {
      const DataType type = check_tensor("send", tensor);
      at::Tensor buf = stage(*work, tensor, false);
      work->add(comm().send(buf.data_ptr(), buf.numel(), type, dst, t));
    }
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::recv(std::vector<at::Tensor>& tensors, int src,
                                                   int tag) {
  return issuing("recv", [&] {
    const uint32_t t = check_tag("recv", tag);
    check_peer("recv", src, getSize());
    auto work = make_work(::c10d::OpType::RECV, "recv", tensors);
    for (const auto& tensor : tensors) {
      const DataType type = check_tensor("recv", tensor);
      at::Tensor buf = stage(*work, tensor, true);
      work->add(comm().recv(buf.data_ptr(), buf.numel(), type, src, t));
    }
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::recvAnysource(std::vector<at::Tensor>&, int) {
  C10_THROW_ERROR(NotImplementedError,
                  "weft_cpp: recv from any source is not supported (weft's recv names its "
                  "peer): pass src=");
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::barrier(const ::c10d::BarrierOptions& opts) {
  return issuing("barrier", [&] {
    auto work = make_work(::c10d::OpType::BARRIER, "barrier", {});
    work->add(comm().barrier(op_options(opts.timeout)));
    return launch(work);
  });
}

}  // namespace weft::c10d_ext
