// WeftWork: torch's Work around one or more weft::Works, with a real future.
//
// An operation is issued on the caller's thread (so every rank issues in the
// same order) and returns at once. It completes when every weft::Work it
// holds completed and its staged results were copied back; then the future
// holds the output tensors (DDP's default hook and .then() chain on it) or
// the error.
//
// CUDA operations (`device` set) are enqueued on torch's current stream and
// complete as NCCL's do: right after issuing, the copies out of staging
// buffers are enqueued on that stream, an end event is recorded and the
// future (CUDA-aware: it records its own events) is marked complete, so its
// users' streams wait for the device and no host thread blocks; wait() makes
// the current stream wait for the end event. The completer still waits for
// the device on the host, to learn a failure (PeerLost, Timeout, Aborted),
// which wait() and exception() then report, and to release the staging
// buffers; weft's communicator then fails every later operation too.
//
// Who completes it: weft's public Work has wait() but no completion
// callback, so each backend has one Completer thread that waits for its
// Works in issue order (a blocking wait costs no CPU, unlike polling, and
// collectives complete in issue order anyway) and completes them; future
// callbacks run there, as they run on Gloo's threads for Gloo. wait() on the
// caller's thread does not queue behind older Works: it waits for this Work's
// own weft::Works and completes it itself (whoever comes first does the
// copies, once), so a send waited on before an older receive can still
// return.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "weft/work.h"

namespace weft::c10d_ext {

class WeftWork : public ::c10d::Work {
 public:
  // `outputs`: the future's value on success. `device`: the GPU of a CUDA
  // operation (none for host memory).
  WeftWork(int rank, ::c10d::OpType type, std::string op, std::vector<at::Tensor> outputs,
           std::optional<c10::Device> device);
  ~WeftWork() override;

  // --- building (on the issuing thread, before the Work is handed out) ---
  void add(weft::Work work) { works_.push_back(std::move(work)); }
  void keep(at::Tensor t) { keep_.push_back(std::move(t)); }
  // Runs after every weft::Work succeeded (copies out of staging buffers).
  void later(std::function<void()> fn) { later_.push_back(std::move(fn)); }
  const std::string& op() const { return op_; }
  bool cuda() const { return device_.has_value(); }
  // CUDA operations, on the issuing thread once every weft operation was
  // enqueued on torch's current stream: enqueues the later() copies there,
  // records the end event, completes the future.
  void enqueued();

  // --- c10d::Work ---
  bool isCompleted() override;
  bool isSuccess() const override;
  std::exception_ptr exception() const override;
  std::vector<at::Tensor> result() override;
  // CUDA: the current stream waits for the operation (no host wait).
  void synchronize() override;
  // timeout 0 (kNoTimeout): weft's own operation timeout bounds the wait.
  // Otherwise a torch DistBackendError when it is still running then (the
  // operation keeps running). Rethrows a failed operation's error.
  bool wait(std::chrono::milliseconds timeout) override;
  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override { return future_; }

  // Waits for the weft::Works, copies results out (host memory), completes
  // the future (host memory) and the Work. Idempotent and thread-safe; never
  // throws (the error goes to the future, or for CUDA to wait()).
  void complete();

 private:
  // Runs the later() copies outside autograd (they may write leaves that
  // require grad, as DDP's parameters are).
  void run_later();
  void complete_future(std::exception_ptr error);
  // CUDA: throws the failure the device reported so far, if any.
  void throw_device_failure();

  std::string op_;
  std::optional<c10::Device> device_;
  std::optional<c10::Event> end_;  // CUDA: recorded after the operation and its copies
  std::vector<weft::Work> works_;
  std::vector<at::Tensor> keep_;
  std::vector<std::function<void()>> later_;
  std::vector<at::Tensor> outputs_;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
  std::mutex complete_mu_;  // held by whoever completes this Work
  bool done_ = false;       // under complete_mu_
};

// weft::Error (or anything else) as the torch error Python sees:
// torch.distributed.DistBackendError carrying weft's message.
std::exception_ptr to_torch_error(const std::string& op, std::exception_ptr error);

// The per-backend thread completing Works in issue order.
class Completer {
 public:
  explicit Completer(std::string name);
  ~Completer();  // completes what is queued, then joins
  Completer(const Completer&) = delete;
  Completer& operator=(const Completer&) = delete;

  void submit(c10::intrusive_ptr<WeftWork> work);
  void stop();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<c10::intrusive_ptr<WeftWork>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace weft::c10d_ext
