#include "staging/host_stream.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "weft/error.h"

namespace weft::staging {

HostStream::HostStream() : thread_([this] { loop(); }) {}

HostStream::~HostStream() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HostStream::enqueue(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void HostStream::synchronize() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return tasks_.empty() && !busy_; });
}

void HostStream::loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stop_ and drained
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    busy_ = true;
    lock.unlock();
    task();
    lock.lock();
    busy_ = false;
    if (tasks_.empty()) idle_cv_.notify_all();
  }
}

HostStream& HostStreamOps::stream_of(void* stream) {
  return stream ? *static_cast<HostStream*>(stream) : default_stream_;
}

void* HostStreamOps::alloc_host(size_t bytes) {
  void* p = std::calloc(1, bytes ? bytes : 1);
  if (!p) throw_error(ErrorCode::SystemError, str("staging: cannot allocate ", bytes, " bytes"));
  return p;
}

void HostStreamOps::free_host(void* p) noexcept { std::free(p); }

// "Device" memory is host memory here; it is freed in stream order like
// cudaFreeAsync, so a free enqueued after a copy does not pull the buffer
// from under it.
void* HostStreamOps::alloc_device(size_t bytes, void*) { return alloc_host(bytes); }

void HostStreamOps::free_device(void* p, void* stream) {
  stream_of(stream).enqueue([p] { std::free(p); });
}

void HostStreamOps::copy(void* dst, size_t dst_pitch, const void* src, size_t src_pitch,
                         size_t row_bytes, size_t rows, void* stream) {
  if (row_bytes == 0 || rows == 0) return;
  stream_of(stream).enqueue([=] {
    for (size_t r = 0; r < rows; ++r)
      std::memmove(static_cast<char*>(dst) + r * dst_pitch,
                   static_cast<const char*>(src) + r * src_pitch, row_bytes);
  });
}

void HostStreamOps::signal(uint64_t* word, uint64_t value, void* stream) {
  stream_of(stream).enqueue(
      [=] { std::atomic_ref<uint64_t>(*word).store(value, std::memory_order_release); });
}

void HostStreamOps::wait(const uint64_t* word, uint64_t value, const uint64_t* abort,
                         void* stream) {
  stream_of(stream).enqueue([=] {
    auto& w = *const_cast<uint64_t*>(word);
    auto& a = *const_cast<uint64_t*>(abort);
    for (int spins = 0;; ++spins) {
      if (std::atomic_ref<uint64_t>(w).load(std::memory_order_acquire) >= value) return;
      if (std::atomic_ref<uint64_t>(a).load(std::memory_order_acquire) != 0) return;
      if (spins > 64) std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
}

std::function<bool()> HostStreamOps::marker(void* stream, const std::string&) {
  auto flag = std::make_shared<std::atomic<bool>>(false);
  stream_of(stream).enqueue([flag] { flag->store(true, std::memory_order_release); });
  return [flag] { return flag->load(std::memory_order_acquire); };
}

}  // namespace weft::staging
