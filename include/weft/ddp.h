// weft::ddp::Reducer — data-parallel gradient averaging with bucketing.
//
// A framework-independent version of what PyTorch's DistributedDataParallel
// does after each backward pass: every rank computes gradients for the same
// parameters; the reducer averages them across ranks while backward is still
// running, by packing gradients into a few large buckets and allreducing each
// bucket as soon as all of its gradients are ready.
//
//   std::vector<weft::ddp::Param> params = {{.numel = 1000, .dtype = f32, .grad = g0}, ...};
//   weft::ddp::Reducer reducer(comm, params, {});
//   for (each iteration) {
//     ... backward; whenever gradient i is computed:  reducer.mark_ready(i);
//     reducer.finalize();   // every gradient now holds the average over ranks
//   }
//
// Buckets. Parameters are assigned to buckets in reverse registration order
// (backward produces the last layers' gradients first), one bucket only ever
// holding one dtype on one device. The first bucket is capped small
// (first_bucket_bytes, 1 MiB) so that communication starts early; later ones
// at bucket_bytes (25 MiB). Buckets launch strictly in index order, each as
// soon as it is full and all earlier buckets have launched, so every rank
// issues the same collectives in the same order.
//
// Rebuild. The order in which gradients actually become ready is observed in
// the first iteration; at its finalize() the buckets are rebuilt from rank 0's
// observed order (broadcast, so every rank builds identical buckets).
//
// Averaging is fused into the allreduce (ReduceOp::avg: the collective divides
// once, the ring e.g. scales each chunk before its allgather phase), or done
// by the comm hook.
//
// Threading: mark_ready() may be called from any thread (autograd engines use
// several); finalize() must not run concurrently with mark_ready().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "weft/communicator.h"
#include "weft/dtype.h"
#include "weft/work.h"

namespace weft::ddp {

// One parameter's gradient as the reducer sees it.
struct Param {
  size_t numel = 0;                 // elements
  DataType dtype = DataType::f32;
  Device device = Device::cpu();    // only host memory is implemented
  // Where the caller's gradient lives (numel elements of dtype): read at
  // mark_ready(), overwritten with the average at finalize(). Unused (may be
  // null) with gradient_as_bucket_view: the gradient then lives in the bucket,
  // at Reducer::gradient(i).
  void* grad = nullptr;
};

// What a communication hook gets: one bucket, holding this rank's gradients.
struct GradBucket {
  size_t index = 0;   // bucket index (launch order)
  void* data = nullptr;
  size_t count = 0;   // elements
  DataType dtype = DataType::f32;
  // Per-bucket scratch memory owned by the reducer and kept across
  // iterations, for hooks that need a second buffer (compression).
  std::vector<std::byte>* scratch = nullptr;
};

// A communication hook replaces the bucket's allreduce. launch() must start
// a collective that, once its Work completed and finish() ran, leaves the
// AVERAGE over all ranks in bucket.data. Every rank runs the same hook.
class CommHook {
 public:
  virtual ~CommHook() = default;
  virtual std::string name() const = 0;
  virtual Work launch(Communicator& comm, GradBucket& bucket) = 0;
  // Runs on the finalize() thread after the Work completed successfully.
  virtual void finish(Communicator& comm, GradBucket& bucket) {
    (void)comm;
    (void)bucket;
  }
};

// The default: allreduce with ReduceOp::avg, in place.
std::shared_ptr<CommHook> allreduce_hook();
// Compression (PyTorch's fp16_compress_hook / bf16_compress_hook): f32 and f64
// buckets are divided by the world size, rounded to `half` (f16 or bf16),
// summed in that type, and widened back. Halves the bytes on the wire at the
// cost of precision (f16: ~11 significant bits, values beyond 65504 overflow;
// bf16: ~8 bits). Buckets of other dtypes use the plain allreduce.
std::shared_ptr<CommHook> compress_hook(DataType half);

struct ReducerOptions {
  size_t first_bucket_bytes = size_t{1} << 20;
  size_t bucket_bytes = size_t{25} << 20;
  // Gradients live inside the buckets (no copy in, no copy out); the caller
  // writes gradient i at gradient(i), which moves once, when buckets are rebuilt.
  bool gradient_as_bucket_view = false;
  // Parameters never marked ready in an iteration count as zero gradients
  // (and ranks agree, through a bitmap allreduce, which were used anywhere).
  // Off: finalize() with a missing gradient is an error naming it.
  bool find_unused_parameters = false;
  // Rebuild the buckets from the ready order of the first iteration.
  bool rebuild_buckets = true;
  std::shared_ptr<CommHook> comm_hook;  // null: allreduce_hook()
};

// Bucket assignment (exposed for tests and tools): walks `order` (parameter
// indices), keeps one open bucket per (dtype, device), and closes a bucket
// once it holds >= its limit: limits[0] for the first bucket of each
// (dtype, device), limits[1] for every later one. Buckets are returned sorted
// by the position in `order` of their first parameter.
std::vector<std::vector<size_t>> assign_buckets(std::span<const Param> params,
                                                std::span<const size_t> order,
                                                size_t first_bucket_bytes, size_t bucket_bytes);
// Reverse registration order: n-1, ..., 0.
std::vector<size_t> reverse_order(size_t n);

class Reducer {
 public:
  // Collective over `comm`: ranks compare their parameter lists (count,
  // element counts, dtypes, devices) and every rank gets Mismatch naming the
  // first differing parameter and both ranks' values when they disagree.
  // `comm` must outlive the reducer.
  Reducer(Communicator& comm, std::vector<Param> params, ReducerOptions options = {});
  ~Reducer();  // waits for launched buckets (errors ignored)
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  // Gradient `index` of the current iteration is complete. Copies it into
  // its bucket (unless it lives there) and launches every bucket that is now
  // full and next in order.
  void mark_ready(size_t index);
  // Ends the iteration: handles unused parameters, waits for every bucket,
  // writes the averages back, rebuilds the buckets after the first iteration.
  void finalize();

  // Where gradient `index` lives: the caller's buffer, or its bucket view.
  void* gradient(size_t index);
  // After finalize(): whether any rank marked parameter `index` ready in the
  // last iteration (always true without find_unused_parameters). Gradients of
  // parameters no rank used are left untouched.
  bool used(size_t index) const;

  // Introspection (tests, logs).
  const std::vector<std::vector<size_t>>& buckets() const;
  size_t launched_buckets() const;  // in the current iteration
  size_t iteration() const;         // completed finalize() calls
  bool rebuilt() const;
  size_t num_params() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::ddp
