// HostStream and HostStreamOps: host memory standing in for a GPU.
//
// A HostStream runs the tasks enqueued on it one after another on its own
// thread, as a CUDA stream runs its kernels and copies: enqueueing returns at
// once and the work happens later, in order. HostStreamOps implements
// StreamOps on it (memcpy for copies, atomics for the words), so the staging
// pipeline, the proxy and the hierarchical composition run — asynchronously,
// with the same hand-offs — on machines without a GPU. A StreamOps `stream`
// argument is then a HostStream* (null: the ops' own default stream).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "staging/stream_ops.h"

namespace weft::staging {

class HostStream {
 public:
  HostStream();
  ~HostStream();  // runs what is queued, then stops
  HostStream(const HostStream&) = delete;
  HostStream& operator=(const HostStream&) = delete;

  void enqueue(std::function<void()> task);
  // Blocks until every task enqueued before the call has run.
  void synchronize();

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::function<void()>> tasks_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

class HostStreamOps final : public StreamOps {
 public:
  void* alloc_host(size_t bytes) override;
  void free_host(void* p) noexcept override;
  void* alloc_device(size_t bytes, void* stream) override;
  void free_device(void* p, void* stream) override;
  void copy(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes,
            size_t rows, void* stream) override;
  using StreamOps::copy;
  void signal(uint64_t* word, uint64_t value, void* stream) override;
  void wait(const uint64_t* word, uint64_t value, const uint64_t* abort, void* stream) override;
  std::function<bool()> marker(void* stream, const std::string& what) override;
  bool capturing(void*) override { return false; }

  HostStream& stream_of(void* stream);

 private:
  HostStream default_stream_;
};

}  // namespace weft::staging
