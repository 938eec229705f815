// StreamOps: what the staging pipeline needs from a device and its streams.
//
// The cross-host path moves device buffers through pinned host memory: copies
// enqueued on the caller's stream, a proxy thread that runs the host
// collective on the staged bytes, and two host words through which the
// stream and the proxy hand chunks to each other. This interface is that
// contract and nothing more, so that the same pipeline runs on CUDA
// (cuda_stream_ops.cc: cudaMemcpy2DAsync, a one-thread kernel that stores or
// spins on a host-mapped word) and, where no GPU exists, on host memory with a
// thread standing in for the stream (host_stream.h) — which is how CI tests it.
//
// Words are 64-bit counters in memory from alloc_host: the stream sets one
// with signal() after everything enqueued before it has finished, and waits on
// one with wait() (until the word reaches a value, or the abort word becomes
// non-zero, so a failed proxy never leaves a stream spinning).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace weft::staging {

class StreamOps {
 public:
  virtual ~StreamOps() = default;

  // Page-locked host memory the device can copy to and from, and read and
  // write words in; zero-filled.
  virtual void* alloc_host(size_t bytes) = 0;
  virtual void free_host(void* p) noexcept = 0;

  // Device memory usable from `stream` on (released in stream order).
  virtual void* alloc_device(size_t bytes, void* stream) = 0;
  virtual void free_device(void* p, void* stream) = 0;

  // `rows` rows of `row_bytes`, `src_pitch` / `dst_pitch` bytes apart, in
  // stream order; either side may be host memory from alloc_host or device
  // memory.
  virtual void copy(void* dst, size_t dst_pitch, const void* src, size_t src_pitch,
                    size_t row_bytes, size_t rows, void* stream) = 0;
  void copy(void* dst, const void* src, size_t bytes, void* stream) {
    if (bytes) copy(dst, bytes, src, bytes, bytes, 1, stream);
  }

  // Once the stream's earlier work finished: *word = value (release).
  virtual void signal(uint64_t* word, uint64_t value, void* stream) = 0;
  // The stream's later work waits until *word >= value or *abort != 0.
  virtual void wait(const uint64_t* word, uint64_t value, const uint64_t* abort,
                    void* stream) = 0;

  // A probe that returns true once the stream's work enqueued so far finished.
  virtual std::function<bool()> marker(void* stream, const std::string& what) = 0;

  // True while `stream` is being captured into a graph (the pipeline's
  // counters cannot be replayed, so staged operations refuse capture).
  virtual bool capturing(void* stream) = 0;
};

}  // namespace weft::staging
