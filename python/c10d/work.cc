#include "work.h"

#include <ATen/core/jit_type.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <c10/util/Exception.h>
#include <ATen/core/grad_mode.h>
#include <Python.h>
#include <pthread.h>

#include <algorithm>

#include "weft/error.h"

namespace weft::c10d_ext {

std::exception_ptr to_torch_error(const std::string& op, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error&) {
    return std::current_exception();  // already torch's (a failed copy-back)
  } catch (const weft::Error& e) {
    // what() is "[Code] rank R: op #seq (...): what happened".
    return std::make_exception_ptr(
        C10_BUILD_ERROR(DistBackendError, c10::str("weft_cpp: ", op, ": ", e.what())));
  } catch (const std::exception& e) {
    return std::make_exception_ptr(
        C10_BUILD_ERROR(DistBackendError, c10::str("weft_cpp: ", op, ": ", e.what())));
  }
}

namespace {

std::vector<c10::Device> devices_of(const std::optional<c10::Device>& device) {
  if (device) {
    return {*device};
  }
  return {};
}

std::string error_message(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an unknown error";
  }
}

c10::Stream current_stream(c10::Device device) {
  return c10::impl::VirtualGuardImpl(device.type()).getStream(device);
}

}  // namespace

WeftWork::WeftWork(int rank, ::c10d::OpType type, std::string op,
                   std::vector<at::Tensor> outputs, std::optional<c10::Device> device)
    : ::c10d::Work(rank, type),
      op_(std::move(op)),
      device_(device),
      outputs_(std::move(outputs)),
      // With devices, the future is CUDA-aware: markCompleted() records
      // events on the current streams, and its users wait on those.
      future_(c10::make_intrusive<c10::ivalue::Future>(
          c10::ListType::create(c10::TensorType::get()), devices_of(device))) {}

WeftWork::~WeftWork() = default;

void WeftWork::run_later() {
  at::NoGradGuard no_grad;
  for (const auto& fn : later_) {
    fn();
  }
  later_.clear();
}

void WeftWork::enqueued() {
  // Everything below is enqueued on the current stream, behind the operation.
  run_later();
  const c10::Stream stream = current_stream(*device_);
  end_.emplace(device_->type());
  end_->record(stream);
  complete_future(nullptr);
}

void WeftWork::complete() {
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(complete_mu_);
    if (done_) {
      return;
    }
    try {
      for (const auto& w : works_) {
        w.wait();
      }
      run_later();  // host memory; CUDA ran them in enqueued()
    } catch (...) {
      error = to_torch_error(op_, std::current_exception());
    }
    done_ = true;
    later_.clear();
    keep_.clear();
  }
  // Outside complete_mu_: future callbacks may call wait() on this Work.
  finish(error);
  if (!cuda()) {
    complete_future(error);
  } else if (error) {
    // The future completed when the operation was enqueued; wait() and
    // exception() report the failure, and the communicator fails every later
    // operation with it.
    TORCH_WARN("weft_cpp: ", op_, " failed on the device after it was enqueued: ",
               error_message(error));
  }
}

void WeftWork::complete_future(std::exception_ptr error) {
  try {
    if (error) {
      future_->setError(error);
    } else {
      future_->markCompleted(c10::IValue(outputs_));
    }
  } catch (const std::exception& e) {
    // A callback added with addCallback() (then() catches its own) threw: it
    // must not take the completer thread, and the group, down with it.
    TORCH_WARN("weft_cpp: a future callback of ", op_, " threw: ", e.what());
  }
}

void WeftWork::throw_device_failure() {
  for (const auto& w : works_) {
    if (w.completed() && w.exception()) {
      complete();  // stores the error (the completer may not have got here yet)
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (exception_) {
    std::rethrow_exception(exception_);
  }
}

void WeftWork::synchronize() {
  if (end_) {
    end_->block(current_stream(*device_));
  }
}

bool WeftWork::isCompleted() {
  if (cuda()) {
    // The device may have finished before the completer got to this Work.
    const bool finished = std::all_of(works_.begin(), works_.end(),
                                      [](const weft::Work& w) { return w.completed(); });
    if (finished) {
      complete();
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return completed_;
}

bool WeftWork::isSuccess() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return completed_ && !exception_;
}

std::exception_ptr WeftWork::exception() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return exception_;
}

std::vector<at::Tensor> WeftWork::result() { return outputs_; }

bool WeftWork::wait(std::chrono::milliseconds timeout) {
  if (cuda() && timeout <= std::chrono::milliseconds(0)) {
    // As NCCL's: the current stream waits, the host does not.
    throw_device_failure();
    synchronize();
    return true;
  }
  if (timeout > std::chrono::milliseconds(0)) {
    // Bounded by the caller's timeout: wait for weft's Works first (complete()
    // would wait without a bound while another thread holds it).
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (const auto& w : works_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      try {
        w.wait(std::max(left, std::chrono::milliseconds(0)));
      } catch (const weft::Error& e) {
        if (e.code() != ErrorCode::Timeout || w.completed()) {
          break;  // failed: complete() below stores and rethrows the error
        }
        C10_THROW_ERROR(DistBackendError,
                        c10::str("weft_cpp: ", op_, ": still running after the wait's "
                                 "timeout of ", timeout.count(), " ms (", e.what(), ")"));
      }
    }
  }
  complete();
  future_->wait();  // the completing thread marks it right after complete()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (exception_) {
      std::rethrow_exception(exception_);
    }
  }
  synchronize();  // CUDA with a timeout: the host waited already; order the stream too
  return true;
}

Completer::Completer(std::string name) : thread_([this] { run(); }) {
  pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

Completer::~Completer() { stop(); }

void Completer::submit(c10::intrusive_ptr<WeftWork> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(work));
  }
  cv_.notify_one();
}

void Completer::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (!thread_.joinable()) {
    return;
  }
  // The group may be destroyed from Python with the GIL held while this
  // thread runs a Python future callback that needs it: let go while joining.
  if (Py_IsInitialized() && PyGILState_Check()) {
    PyThreadState* state = PyEval_SaveThread();
    thread_.join();
    PyEval_RestoreThread(state);
  } else {
    thread_.join();
  }
}

void Completer::run() {
  for (;;) {
    c10::intrusive_ptr<WeftWork> work;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping, everything completed
      }
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work->complete();
  }
}

}  // namespace weft::c10d_ext
