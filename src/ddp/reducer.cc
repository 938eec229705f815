// The Reducer: buckets, in-order launches, unused parameters, rebuild.
//
// One iteration:
//   mark_ready(i)  copy gradient i into its bucket slot (skipped for bucket
//                  views); when that was the bucket's last pending gradient,
//                  launch every full bucket from `next_launch_` on — strictly
//                  in index order, so all ranks issue identical collectives.
//   finalize()     missing gradients: error, or (find_unused_parameters) zero
//                  slots + a bitmap allreduce (max) telling who used what;
//                  wait for the buckets in order, run the hook's finish step,
//                  copy the averages back; after iteration 0, rebuild the
//                  buckets from rank 0's observed ready order.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "ddp/param_check.h"
#include "weft/ddp.h"
#include "weft/error.h"
#include "weft/log.h"

namespace weft::ddp {
namespace {

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};
using Memory = std::unique_ptr<std::byte[], FreeDeleter>;

// Allocated once per bucket (and once more at the rebuild), zeroed: touching
// every page here keeps page faults out of the training loop.
Memory allocate(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(64, rounded));
  if (p == nullptr) throw_error(ErrorCode::SystemError, str("ddp::Reducer: cannot allocate ",
                                                            rounded, " bytes for a bucket"));
  std::memset(p, 0, rounded);
  return Memory(p);
}

struct Bucket {
  std::vector<size_t> members;
  DataType dtype = DataType::f32;
  size_t count = 0;  // elements
  Memory data;
  std::vector<std::byte> scratch;  // the comm hook's
  size_t pending = 0;              // members not ready yet in this iteration
  Work work;
  bool launched = false;
};

struct Slot {
  size_t bucket = 0;
  size_t offset = 0;  // elements into the bucket
};

}  // namespace

class Reducer::Impl {
 public:
  Impl(Communicator& comm, std::vector<Param> params, ReducerOptions options)
      : comm_(comm), params_(std::move(params)), options_(std::move(options)) {
    hook_ = options_.comm_hook ? options_.comm_hook : allreduce_hook();
    for (size_t i = 0; i < params_.size(); ++i)
      WEFT_REQUIRE(options_.gradient_as_bucket_view || params_[i].grad != nullptr ||
                       params_[i].numel == 0,
                   "rank ", comm_.rank(), ": ddp::Reducer: parameter ", i,
                   " has no gradient buffer (Param::grad is null)");
    check_same_params(comm_, params_);
    for (size_t i = 0; i < params_.size(); ++i)
      if (params_[i].device.kind != Device::Kind::cpu)
        throw_error(ErrorCode::Unsupported,
                    str("rank ", comm_.rank(), ": ddp::Reducer: parameter ", i,
                        " is on a CUDA device; the reducer supports host memory only"));
    ready_.assign(params_.size(), 0);
    used_.assign(params_.size(), 1);
    build(assign_buckets(params_, reverse_order(params_.size()), options_.first_bucket_bytes,
                         options_.bucket_bytes));
    WEFT_INFO("ddp", "reducer: ", params_.size(), " parameters in ", buckets_.size(),
              " buckets, hook ", hook_->name());
  }

  ~Impl() {
    // Launched collectives still write into the buckets.
    for (auto& b : buckets_) {
      try {
        if (b.launched) b.work.wait();
      } catch (const std::exception&) {
      }
    }
  }

  void mark_ready(size_t i) {
    {
      std::lock_guard lock(mutex_);
      WEFT_REQUIRE(i < params_.size(), "rank ", comm_.rank(), ": ddp::Reducer::mark_ready: parameter ",
                   i, " out of range (", params_.size(), " parameters)");
      WEFT_REQUIRE(!ready_[i], "rank ", comm_.rank(), ": ddp::Reducer::mark_ready: parameter ", i,
                   " marked ready twice in iteration ", iteration_);
      ready_[i] = 1;
      if (observe_order()) ready_order_.push_back(i);
    }
    // Slots are disjoint and the bucket cannot launch before this returns:
    // the copy needs no lock.
    if (!options_.gradient_as_bucket_view && bytes(i) > 0)
      std::memcpy(slot_ptr(i), params_[i].grad, bytes(i));
    std::lock_guard lock(mutex_);
    arrive(i);
  }

  void finalize() {
    std::lock_guard lock(mutex_);
    std::vector<size_t> missing;
    for (size_t i = 0; i < params_.size(); ++i)
      if (!ready_[i]) missing.push_back(i);
    if (!missing.empty() && !options_.find_unused_parameters) {
      throw_error(ErrorCode::InvalidArgument,
                  str("rank ", comm_.rank(), ": ddp::Reducer::finalize (iteration ", iteration_,
                      "): parameter ", missing.front(), " was never marked ready (",
                      missing.size(), " of ", params_.size(),
                      " parameters missing); set find_unused_parameters when some parameters "
                      "get no gradient"));
    }
    // Unused here: a zero gradient. (Ready ones were copied in mark_ready.)
    for (size_t i : missing) {
      std::memset(slot_ptr(i), 0, bytes(i));
      arrive(i);
    }
    WEFT_ASSERT(next_launch_ == buckets_.size());
    Work bitmap;
    if (options_.find_unused_parameters && !params_.empty()) {
      // After every bucket, so all ranks issue the collectives in one order.
      used_ = ready_;
      bitmap = comm_.allreduce(used_.data(), used_.data(), used_.size(), DataType::u8,
                               ReduceOp::max);
    }
    for (auto& b : buckets_) {
      b.work.wait();
      GradBucket view = grad_bucket(b);
      hook_->finish(comm_, view);
    }
    bitmap.wait();
    if (!options_.gradient_as_bucket_view) {
      for (size_t i = 0; i < params_.size(); ++i)
        if (used_[i] && bytes(i) > 0) std::memcpy(params_[i].grad, slot_ptr(i), bytes(i));
    }
    const bool rebuild = observe_order();
    reset();
    if (rebuild) rebuild_buckets();
    ++iteration_;
  }

  void* gradient(size_t i) {
    WEFT_REQUIRE(i < params_.size(), "ddp::Reducer::gradient: parameter ", i, " out of range (",
                 params_.size(), " parameters)");
    return options_.gradient_as_bucket_view ? slot_ptr(i) : params_[i].grad;
  }
  bool used(size_t i) const {
    WEFT_REQUIRE(i < params_.size(), "ddp::Reducer::used: parameter ", i, " out of range");
    return used_[i] != 0;
  }
  const std::vector<std::vector<size_t>>& assignment() const { return assignment_; }
  size_t launched() const {
    std::lock_guard lock(mutex_);
    return next_launch_;
  }
  size_t iteration() const { return iteration_; }
  bool rebuilt() const { return rebuilt_; }
  size_t num_params() const { return params_.size(); }

 private:
  bool observe_order() const { return options_.rebuild_buckets && !rebuilt_ && iteration_ == 0; }
  size_t bytes(size_t i) const { return params_[i].numel * size_of(params_[i].dtype); }
  std::byte* slot_ptr(size_t i) const {
    const Bucket& b = buckets_[slots_[i].bucket];
    return b.data.get() + slots_[i].offset * size_of(b.dtype);
  }
  GradBucket grad_bucket(Bucket& b) {
    return GradBucket{static_cast<size_t>(&b - buckets_.data()), b.data.get(), b.count, b.dtype,
                      &b.scratch};
  }

  // Gradient i is in its slot; launch what became launchable. Caller holds mutex_.
  void arrive(size_t i) {
    Bucket& b = buckets_[slots_[i].bucket];
    WEFT_ASSERT(b.pending > 0);
    if (--b.pending > 0) return;
    while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
      Bucket& next = buckets_[next_launch_++];
      GradBucket view = grad_bucket(next);
      next.work = hook_->launch(comm_, view);
      next.launched = true;
    }
  }

  void reset() {
    std::fill(ready_.begin(), ready_.end(), 0);
    for (auto& b : buckets_) {
      b.pending = b.members.size();
      b.launched = false;
      b.work = Work();
    }
    next_launch_ = 0;
  }

  void build(std::vector<std::vector<size_t>> assignment) {
    std::vector<Bucket> buckets(assignment.size());
    std::vector<Slot> slots(params_.size());
    for (size_t k = 0; k < assignment.size(); ++k) {
      Bucket& b = buckets[k];
      b.members = assignment[k];
      b.dtype = params_[b.members.front()].dtype;
      for (size_t i : b.members) {
        slots[i] = {k, b.count};
        b.count += params_[i].numel;
      }
      b.data = allocate(b.count * size_of(b.dtype));
      b.pending = b.members.size();
    }
    if (options_.gradient_as_bucket_view && !buckets_.empty()) {
      // The gradients live in the buckets: move them to their new slots.
      for (size_t i = 0; i < params_.size(); ++i) {
        const Bucket& nb = buckets[slots[i].bucket];
        std::memcpy(nb.data.get() + slots[i].offset * size_of(nb.dtype), slot_ptr(i), bytes(i));
      }
    }
    buckets_ = std::move(buckets);
    slots_ = std::move(slots);
    assignment_ = std::move(assignment);
  }

  // Rank 0's ready order of iteration 0 decides, so every rank builds the same buckets.
  void rebuild_buckets() {
    std::vector<uint64_t> order(ready_order_.begin(), ready_order_.end());
    std::vector<bool> seen(params_.size(), false);
    for (size_t i : ready_order_) seen[i] = true;
    for (size_t i : reverse_order(params_.size()))
      if (!seen[i]) order.push_back(i);  // never ready here: last, as registered
    comm_.broadcast(order.data(), order.size(), DataType::u64, 0).wait();
    std::vector<size_t> chosen(order.begin(), order.end());
    auto assignment =
        assign_buckets(params_, chosen, options_.first_bucket_bytes, options_.bucket_bytes);
    rebuilt_ = true;
    ready_order_.clear();
    if (assignment == assignment_) return;
    build(std::move(assignment));
    WEFT_INFO("ddp", "reducer: buckets rebuilt from rank 0's ready order: ", buckets_.size(),
              " buckets");
  }

  Communicator& comm_;
  std::vector<Param> params_;
  ReducerOptions options_;
  std::shared_ptr<CommHook> hook_;
  std::vector<Bucket> buckets_;
  std::vector<Slot> slots_;  // per parameter
  std::vector<std::vector<size_t>> assignment_;
  std::vector<uint8_t> ready_;   // marked in this iteration (locally)
  std::vector<uint8_t> used_;    // used by any rank in the last iteration
  std::vector<size_t> ready_order_;  // iteration 0, for the rebuild
  size_t next_launch_ = 0;
  size_t iteration_ = 0;
  bool rebuilt_ = false;
  mutable std::mutex mutex_;
};

Reducer::Reducer(Communicator& comm, std::vector<Param> params, ReducerOptions options)
    : impl_(std::make_unique<Impl>(comm, std::move(params), std::move(options))) {}
Reducer::~Reducer() = default;
void Reducer::mark_ready(size_t index) { impl_->mark_ready(index); }
void Reducer::finalize() { impl_->finalize(); }
void* Reducer::gradient(size_t index) { return impl_->gradient(index); }
bool Reducer::used(size_t index) const { return impl_->used(index); }
const std::vector<std::vector<size_t>>& Reducer::buckets() const { return impl_->assignment(); }
size_t Reducer::launched_buckets() const { return impl_->launched(); }
size_t Reducer::iteration() const { return impl_->iteration(); }
bool Reducer::rebuilt() const { return impl_->rebuilt(); }
size_t Reducer::num_params() const { return impl_->num_params(); }

}  // namespace weft::ddp
