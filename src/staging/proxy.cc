#include "staging/proxy.h"

#include "weft/log.h"

namespace weft::staging {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t load(const uint64_t& word) {
  return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(word)).load(std::memory_order_acquire);
}

void store(uint64_t& word, uint64_t value) {
  std::atomic_ref<uint64_t>(word).store(value, std::memory_order_release);
}

}  // namespace

Proxy::Proxy(ControlWords* words, int rank, std::chrono::milliseconds timeout)
    : words_(words), rank_(rank), timeout_(timeout), thread_([this] { loop(); }) {}

Proxy::~Proxy() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Proxy::push(std::vector<Job> jobs) {
  {
    std::lock_guard lock(mu_);
    if (waiting_.empty()) head_since_ = Clock::now();
    for (auto& j : jobs) waiting_.push_back(std::move(j));
  }
  cv_.notify_all();
}

void Proxy::fail(const Error& error) {
  {
    std::lock_guard lock(mu_);
    if (failure_) return;
    failure_ = error;
    waiting_.clear();
  }
  store(words_->abort, 1);
  WEFT_WARN("staging", "rank ", rank_, ": staged operations failed: [", to_string(error.code()),
            "] ", error.message());
  std::lock_guard lock(callback_mu_);
  if (on_failure_) on_failure_(error);
}

std::optional<Error> Proxy::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

void Proxy::set_watch(std::function<std::optional<Error>()> watch) {
  std::lock_guard lock(watch_mu_);
  watch_ = std::move(watch);
}

void Proxy::set_on_failure(std::function<void(const Error&)> callback) {
  std::lock_guard lock(callback_mu_);
  on_failure_ = std::move(callback);
}

bool Proxy::step() {
  std::unique_lock lock(mu_);
  if (failure_) {
    running_.clear();
    return false;
  }
  bool progressed = false;
  // Start every chunk the stream has staged.
  const uint64_t ready = load(words_->ready);
  while (!waiting_.empty() && waiting_.front().id <= ready) {
    Job job = std::move(waiting_.front());
    waiting_.pop_front();
    head_since_ = Clock::now();
    lock.unlock();
    std::optional<Error> error;
    Work work;
    try {
      work = job.run();
    } catch (const Error& e) {
      error = e;
    }
    lock.lock();
    if (error) {
      lock.unlock();
      fail(*error);
      return true;
    }
    running_.push_back({std::move(job), std::move(work)});
    progressed = true;
  }
  // Finish chunks in order: the stream copies them back in order.
  while (!running_.empty()) {
    bool finished = false;
    std::optional<Error> error;
    try {
      finished = running_.front().work.test();
    } catch (const Error& e) {
      error = e;
    }
    if (error) {
      lock.unlock();
      fail(*error);
      return true;
    }
    if (!finished) break;
    if (running_.front().job.after) running_.front().job.after();
    const uint64_t id = running_.front().job.id;
    running_.pop_front();
    store(words_->done, id);
    finished_.store(id, std::memory_order_release);
    progressed = true;
  }
  // A stream that stops delivering chunks (earlier work on it is stuck, or
  // the caller never launched what it enqueued) must not leave peers waiting
  // forever without a word.
  if (!waiting_.empty() && running_.empty() && Clock::now() - head_since_ > timeout_) {
    const std::string what = waiting_.front().what;
    lock.unlock();
    fail(Error(ErrorCode::Timeout,
               str("rank ", rank_, ": ", what, ": the stream did not stage the chunk within ",
                   std::chrono::duration<double>(timeout_).count(),
                   " s (is earlier work on the stream stuck?)")));
    return true;
  }
  lock.unlock();
  std::optional<Error> elsewhere;
  {
    std::lock_guard watching(watch_mu_);
    if (watch_) elsewhere = watch_();
  }
  if (elsewhere) {
    fail(*elsewhere);
    return true;
  }
  return progressed;
}

void Proxy::loop() {
  auto idle = std::chrono::microseconds(1);
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (stop_) return;
    }
    if (step()) {
      idle = std::chrono::microseconds(1);
      continue;
    }
    std::unique_lock lock(mu_);
    const bool busy = !waiting_.empty() || !running_.empty();
    // Busy: poll the words soon. Idle: only the watch needs a look now and then.
    cv_.wait_for(lock, busy ? idle : std::chrono::milliseconds(2),
                 [&] { return stop_ || (!busy && !waiting_.empty()); });
    if (busy) idle = std::min(idle * 2, std::chrono::microseconds(100));
  }
}

}  // namespace weft::staging
