#include "comm/comm_impl.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <thread>

#include "comm/on_cpu.h"
#include "core/coarse_clock.h"
#include "core/recycling_allocator.h"
#include "weft/env.h"
#include "weft/log.h"

namespace weft {

using coll::Clock;

CommConfig CommConfig::from_env(const CommOptions& options) {
  CommConfig c;
  c.timeout = options.timeout ? *options.timeout : env::get_seconds("WEFT_TIMEOUT_S");
  c.algo = env::get("WEFT_ALGO");
  c.dump_on_error = env::get_bool("WEFT_DUMP_ON_ERROR");
  return c;
}

Communicator::Impl::Impl(std::unique_ptr<transport::Transport> transport, CommConfig config)
    : rank_(transport->rank()),
      size_(transport->size()),
      config_(std::move(config)),
      planner_(config_.algo),
      transport_(std::move(transport)) {
  transport_->set_context([this] {
    std::unique_lock lock(mutex_);
    if (!has_current_) return std::string("no operation");
    const coll::OpDesc current = current_;
    lock.unlock();
    return current.describe();
  });
  transport_->set_on_failure([this](const Error& e) { on_transport_failure(e); });
  worker_ = std::thread([this] { worker_loop(); });
}

Communicator::Impl::~Impl() {
  bool busy;
  {
    std::lock_guard lock(mutex_);
    busy = running_ || !queue_.empty();
    for (auto& w : p2p_watch_) busy = busy || !w.request->done();
    stop_ = true;
  }
  if (busy)
    transport_->fail(ErrorCode::Aborted,
                     str("rank ", rank_, ": communicator destroyed with operations pending"));
  cv_.notify_all();
  worker_.join();
  transport_.reset();
}

void Communicator::Impl::set_topology(std::unique_ptr<shm::Group> shm, coll::Topology topology) {
  std::lock_guard lock(mutex_);
  if (shm) bind_worker(shm->local_rank(), shm->local_size());
  shm_ = std::move(shm);
  planner_.set_topology(std::move(topology));
}

// Shared-memory collectives run in lockstep between the workers of one
// host. Left to the scheduler, a worker woken by its peer is often placed on
// the peer's core (wake-affine), and the two then take turns on one core
// while the other sits idle. When there are enough CPUs for every local
// rank, each worker gets its own: local rank i runs on the i-th CPU this
// process may use (like mpirun's default binding), unless WEFT_CPU_BIND=0.
void Communicator::Impl::bind_worker(int local_rank, int local_size) {
  if (!env::get_bool("WEFT_CPU_BIND")) return;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  const int ncpus = CPU_COUNT(&allowed);
  if (local_size > ncpus) return;
  int seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed) || seen++ != local_rank) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (pthread_setaffinity_np(worker_.native_handle(), sizeof one, &one) != 0) return;
    bound_cpu_.store(cpu, std::memory_order_relaxed);
    WEFT_INFO("comm", "rank ", rank_, ": worker thread bound to CPU ", cpu, " (local rank ",
              local_rank, " of ", local_size, "); waiting threads run collectives there too");
    return;
  }
}

std::chrono::milliseconds Communicator::Impl::timeout_of(const OpOptions& options) const {
  return options.timeout ? *options.timeout : config_.timeout;
}

Work Communicator::Impl::submit(coll::OpDesc desc, Body body, const OpOptions& options) {
  std::unique_lock lock(mutex_);
  WEFT_REQUIRE(!stop_, "rank ", rank_, ": communicator is shutting down");
  if (options.blocking)
    if (auto done = run_now(desc, body, options, lock)) return std::move(*done);
  desc.seq = next_seq_++;
  // No text is formatted here: the Work and the op log describe the
  // operation when someone asks (an error, a dump), from `desc`.
  auto state = std::allocate_shared<Work::State>(RecyclingAllocator<Work::State>(), rank_, desc);
  state->set_helper(weak_from_this(), desc.seq);
  Work work(state);
  // The grace period counts from the caller's last call.
  const auto now = Clock::now();
  const uint64_t id = log_.add(desc, size_, now);
  last_activity_ = now;
  // On standby the worker polls; a sleeping one, or one that must start
  // this operation at once, needs a wake-up.
  const bool wake = worker_asleep_ || workers_only(desc);
  worker_asleep_ = false;
  Work::State& waited = *state;
  queue_.push_back(Op{desc, std::move(body), std::move(state), timeout_of(options), id, now});
  lock.unlock();
  if (wake) cv_.notify_all();
  // Blocking behind other operations: waits (and helps) like Work::wait(),
  // leaving a failure in the Work.
  if (options.blocking) waited.wait();
  return work;
}

// Nothing is queued or running: nobody else can take the running token, so
// the operation needs neither a queue entry nor a Work state (whose
// reference counts, allocation and hand-over were most of a small blocking
// call's cost: bench/results/cpu.md).
std::optional<Work> Communicator::Impl::run_now(coll::OpDesc desc, const Body& body,
                                                const OpOptions& options,
                                                std::unique_lock<std::mutex>& lock) {
  if (running_ || !queue_.empty() || workers_only(desc)) return std::nullopt;
  desc.seq = next_seq_++;
  // The coarse clock only: its deadline and the op log's times count in
  // seconds, and the worker's grace period matters only to queued
  // operations, whose submit() reads the precise clock. It keeps the worker
  // on standby like any call (letting it sleep measured 1-3 % slower).
  const auto start = std::max(coarse_now(), last_activity_);
  const uint64_t id = log_.add(desc, size_, start, OpLog::State::running);
  last_activity_ = start;
  begin_run(desc);
  lock.unlock();
  std::exception_ptr failure;
  {
    // On the rank's CPU while it runs, as help() does (OnCpu says why).
    log::ScopedRank scoped(rank_);
    OnCpu on_cpu(bound_cpu_.load(std::memory_order_relaxed));
    failure = run(desc, body, timeout_of(options), start);
  }
  lock.lock();
  end_run(id, failure != nullptr, coarse_now());
  lock.unlock();
  if (!failure) return Work();
  auto state = std::make_shared<Work::State>(rank_, desc);
  state->fail(failure);
  return Work(state);
}

void Communicator::Impl::run_front(std::unique_lock<std::mutex>& lock) {
  Op op = std::move(queue_.front());
  queue_.pop_front();
  begin_run(op.desc);
  // Its start sets its deadline and the op log's time: the coarse clock
  // does (never before it was queued). Its end starts the worker's grace
  // period (microseconds): the precise clock.
  const auto start = std::max(coarse_now(), op.queued_at);
  log_.set_state(op.log_id, OpLog::State::running, start);
  lock.unlock();
  std::exception_ptr failure = run(op.desc, op.body, op.timeout, start);
  const auto end = Clock::now();
  lock.lock();
  // Completed under the lock: completing takes no lock of its own and makes
  // a system call only for a thread asleep on it (work_state.h). Then a
  // helper that saw its operation not done yet is asleep by now and gets
  // the notification (end_run).
  end_run(op.log_id, failure != nullptr, end);
  last_activity_ = std::max(last_activity_, end);
  if (failure)
    op.state->fail(failure);
  else
    op.state->complete();
}

void Communicator::Impl::begin_run(const coll::OpDesc& desc) {
  running_ = true;
  has_current_ = true;
  current_ = desc;
}

void Communicator::Impl::end_run(uint64_t log_id, bool failed, Clock::time_point end) {
  log_.set_state(log_id, failed ? OpLog::State::failed : OpLog::State::done, end);
  // Idle before the caller hears of completion, so that a communicator
  // destroyed right after its last wait() is not taken as busy.
  running_ = false;
  has_current_ = false;
  // Threads in help() wait for the token; a worker nudged while this thread
  // ran has the queue once this thread leaves the lock.
  if (waiting_helpers_ > 0) helpers_cv_.notify_all();
  if (nudged_) cv_.notify_all();
}

void Communicator::Impl::worker_loop() {
  log::ScopedRank scoped(rank_);
  std::unique_lock lock(mutex_);
  while (true) {
    const auto now = Clock::now();
    if (!queue_.empty() && !running_) {
      // The next operation is the worker's when it is one of the large ones,
      // when shutting down, or, while no thread waits to run its own, when
      // the worker ran the one before or nobody claimed it in time.
      const Op& front = queue_.front();
      const bool large = workers_only(front.desc);
      const bool unclaimed =
          now - last_activity_ >= grace_ || now - front.queued_at >= kMaxUnclaimed;
      if (large || stop_ || nudged_ ||
          (waiting_helpers_ == 0 && (worker_owns_ || unclaimed))) {
        if (!large && !stop_ && !worker_owns_ && !nudged_) grace_ = kGraceMin;
        worker_owns_ = true;
        nudged_ = false;
        run_front(lock);
        continue;
      }
    }
    worker_owns_ = false;
    if (stop_ && queue_.empty() && !running_) break;
    auto deadline = now + std::chrono::seconds(1);
    for (auto& w : p2p_watch_) deadline = std::min(deadline, w.deadline);
    if (!queue_.empty() || now - last_activity_ < kStandby) {
      auto check = last_activity_ + grace_;
      if (!queue_.empty()) check = std::min(check, queue_.front().queued_at + kMaxUnclaimed);
      deadline = std::min(deadline, check > now ? check : now + grace_);
    } else {
      worker_asleep_ = true;
    }
    worker_wakes_at_ = deadline;
    cv_.wait_until(lock, deadline);
    worker_wakes_at_ = Clock::time_point::min();
    worker_asleep_ = false;
    lock.unlock();
    check_p2p_deadlines();
    lock.lock();
  }
}

void Communicator::Impl::nudge(const Work::State& target) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    // Once per hand-over: the worker clears it when it takes the queue.
    if (!nudged_ && !worker_owns_ && !queue_.empty() && queue_.front().desc.seq <= target.seq())
      wake = nudged_ = true;
  }
  if (wake) cv_.notify_all();
}

void Communicator::Impl::help(Work::State& target) {
  log::ScopedRank scoped(rank_);
  OnCpu on_cpu(bound_cpu_.load(std::memory_order_relaxed));
  std::unique_lock lock(mutex_);
  bool counted = false;
  while (!target.done()) {
    if (!running_ && !queue_.empty() && queue_.front().desc.seq <= target.seq() &&
        !workers_only(queue_.front().desc)) {
      worker_owns_ = nudged_ = false;
      grace_ = std::min(grace_ * 2, std::chrono::microseconds(kGraceMax));
      run_front(lock);
      continue;
    }
    // Another thread runs an operation (ours or one before it), the next
    // one is the worker's, or ours is between its end and its completion:
    // wait for the hand-over.
    if (!counted) {
      counted = true;
      ++waiting_helpers_;
    }
    helpers_cv_.wait(lock);
  }
  if (counted) --waiting_helpers_;
}

Error Communicator::Impl::in_context(const std::string& what, std::exception_ptr root) const {
  try {
    std::rethrow_exception(root);
  } catch (const Error& e) {
    const std::string self = str("rank ", rank_, ": ");
    if (e.message().rfind(self, 0) == 0 && e.message().find(what) != std::string::npos)
      return e;
    return Error(e.code(), str(self, what, ": ", e.message()));
  } catch (const std::exception& e) {
    return Error(ErrorCode::Internal, str("rank ", rank_, ": ", what, ": ", e.what()));
  }
}

std::exception_ptr Communicator::Impl::run(const coll::OpDesc& desc, const Body& body,
                                           std::chrono::milliseconds timeout,
                                           Clock::time_point start) {
  if (auto root = transport_->failure()) {
    const std::string what = desc.describe();
    Error e = in_context(what, root);
    return std::make_exception_ptr(
        Error(e.code(), str("rank ", rank_, ": ", what, ": communicator failed earlier: ",
                            e.message())));
  }
  WEFT_TRACE("comm", "start ", desc.describe(), " on the ",
             std::this_thread::get_id() == worker_.get_id() ? "worker" : "waiting", " thread");
  coll::Context ctx(*transport_, desc, start + timeout, scratch_, shm_.get());
  std::exception_ptr failure;
  try {
    body.run(ctx, planner_, body.args);
  } catch (const Error& e) {
    const std::string what = desc.describe();
    if (auto root = transport_->failure()) {
      Error err = in_context(what, root);
      // A failure relayed from elsewhere: say whom this rank was waiting for,
      // which leads from rank to rank to the one that is stuck or gone.
      const std::string awaited = ctx.awaited();
      const std::string self = str("rank ", rank_, ": ", what, ": ");
      if (!awaited.empty() && err.message().rfind(self, 0) == 0 &&
          err.message().find(str("rank ", rank_, ": "), self.size()) == std::string::npos)
        err = Error(err.code(), str(self, "waiting for data from ", awaited,
                                    " when the communicator failed: ",
                                    err.message().substr(self.size())));
      failure = std::make_exception_ptr(err);
    } else {
      // Detected here (a deadline, a bad argument found mid-way): it becomes
      // the communicator's root cause and the peers are told.
      std::string message = str("rank ", rank_, ": ", what, ": ", e.message());
      if (e.code() == ErrorCode::Timeout)
        message += str(" after ", std::chrono::duration<double>(timeout).count(), " s");
      transport_->fail(e.code(), message);
      failure = std::make_exception_ptr(in_context(what, transport_->failure()));
    }
  } catch (const std::exception& e) {
    const std::string what = desc.describe();
    transport_->fail(ErrorCode::Internal, str("rank ", rank_, ": ", what, ": ", e.what()));
    failure = std::make_exception_ptr(in_context(what, transport_->failure()));
  }
  if (!failure) WEFT_TRACE("comm", "done ", desc.describe());
  return failure;
}

Work Communicator::Impl::p2p(bool is_send, void* buf, size_t count, DataType type, int peer,
                             uint32_t tag, const OpOptions& options) {
  WEFT_REQUIRE(peer >= 0 && peer < size_ && peer != rank_, "rank ", rank_, ": ",
               is_send ? "send" : "recv", " peer ", peer, " is not another rank of [0, ",
               size_, ")");
  const auto now = Clock::now();
  coll::OpDesc desc{is_send ? coll::OpKind::send : coll::OpKind::recv, type, ReduceOp::sum, -1, count, 0};
  desc.peer = peer;
  desc.tag = tag;
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    desc.seq = (is_send ? p2p_sent_ : p2p_received_)[{peer, tag}]++;
    id = log_.add(desc, size_, now, OpLog::State::running);
  }
  const uint64_t index = desc.seq;
  // Point-to-point tags: top bit set, then the user tag, then the message's
  // index among those with this (peer, tag), so that matching is exact.
  const uint64_t wire_tag = (uint64_t{1} << 63) | (uint64_t{tag} << 31) | (index & 0x7fffffffu);
  // Both sides put a send's header on the wire, so that they match.
  const transport::OpHeader header =
      coll::OpDesc{coll::OpKind::send, type, ReduceOp::sum, -1, count, index}.header();
  // The description ("send #3 to peer rank 1 (tag 0, 4 x f32)") is made
  // only when asked for (an error, the op log's dump, Work::describe()):
  // formatting it for every message cost more than a small message.
  auto state = std::allocate_shared<Work::State>(RecyclingAllocator<Work::State>(), rank_, desc);
  auto on_done = [this, state, desc, id](std::exception_ptr error) {
    {
      std::lock_guard lock(mutex_);
      log_.set_state(id, error ? OpLog::State::failed : OpLog::State::done);
    }
    if (error)
      state->fail(std::make_exception_ptr(in_context(desc.describe(), error)));
    else
      state->complete();
  };
  const size_t bytes = count * size_of(type);
  auto request = is_send ? transport_->isend(peer, wire_tag, buf, bytes, &header, on_done)
                         : transport_->irecv(peer, wire_tag, buf, bytes, &header, on_done);
  const auto timeout = timeout_of(options);
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    // Completed entries are swept once the list doubled since the last
    // sweep, not at every post: a sweep looks at every entry (a lock each),
    // and a batch of posted requests made that quadratic.
    if (p2p_watch_.size() >= p2p_sweep_at_) {
      std::erase_if(p2p_watch_, [](const P2pWatch& w) { return w.request->done(); });
      p2p_sweep_at_ = std::max<size_t>(64, 2 * p2p_watch_.size());
    }
    if (!request->done()) {
      const auto deadline = now + timeout;
      p2p_watch_.push_back({request, deadline, desc, timeout});
      // The worker checks the deadlines: it needs waking only when this one
      // comes before its next look (a wake-up per message cost more than
      // the message).
      wake = deadline < worker_wakes_at_;
    }
  }
  if (wake) cv_.notify_all();
  return Work(state);
}

void Communicator::Impl::check_p2p_deadlines() {
  std::string expired;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    for (auto& w : p2p_watch_) {
      if (!w.request->done() && w.deadline <= now) {
        expired = str("rank ", rank_, ": ", w.desc.describe(), ": timed out after ",
                      std::chrono::duration<double>(w.timeout).count(),
                      " s waiting for peer rank ", w.request->peer);
        break;
      }
    }
    std::erase_if(p2p_watch_, [](const P2pWatch& w) { return w.request->done(); });
  }
  if (!expired.empty()) transport_->fail(ErrorCode::Timeout, expired);
}

void Communicator::Impl::on_transport_failure(const Error& error) {
  WEFT_WARN("comm", "rank ", rank_, ": communicator failed: [", to_string(error.code()), "] ",
            error.message());
  if (error.code() != ErrorCode::Timeout && !config_.dump_on_error) return;
  std::vector<OpLog::Record> records;
  {
    std::lock_guard lock(mutex_);
    records = log_.snapshot();
  }
  OpLog::dump(records, rank_, to_string(error.code()));
}

void Communicator::Impl::abort() {
  std::string current = "no operation running";
  {
    std::unique_lock lock(mutex_);
    if (has_current_) {
      const coll::OpDesc desc = current_;
      lock.unlock();
      current = desc.describe();
    }
  }
  transport_->fail(ErrorCode::Aborted,
                   str("rank ", rank_, ": communicator aborted by abort() (", current, ")"));
}

}  // namespace weft
