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
    for (auto& j : jobs) {
      LaneState& lane = lanes_[static_cast<int>(j.lane)];
      if (lane.waiting.empty()) lane.head_since = Clock::now();
      lane.waiting.push_back(std::move(j));
    }
  }
  cv_.notify_all();
}

void Proxy::fail(const Error& error) {
  {
    std::lock_guard lock(mu_);
    if (failure_) return;
    failure_ = error;
    for (auto& lane : lanes_) lane.waiting.clear();
  }
  store(words_[0].abort, 1);
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

bool Proxy::busy() const {
  for (const auto& lane : lanes_)
    if (!lane.waiting.empty() || !lane.running.empty()) return true;
  return false;
}

bool Proxy::advance(int index, std::unique_lock<std::mutex>& lock) {
  LaneState& lane = lanes_[index];
  ControlWords& words = words_[index];
  bool progressed = false;
  // Start every chunk the stream has staged.
  const uint64_t ready = load(words.ready);
  while (!failure_ && !lane.waiting.empty() && lane.waiting.front().id <= ready) {
    Job job = std::move(lane.waiting.front());
    lane.waiting.pop_front();
    lane.head_since = Clock::now();
    lock.unlock();
    std::optional<Error> error;
    Work work;
    try {
      work = job.run();
    } catch (const Error& e) {
      error = e;
    }
    if (error) {
      fail(*error);
      lock.lock();
      return true;
    }
    lock.lock();
    lane.running.push_back({std::move(job), std::move(work)});
    progressed = true;
  }
  // Retire chunks in order: the stream copies them back in order.
  while (!failure_ && !lane.running.empty()) {
    bool finished = false;
    std::optional<Error> error;
    try {
      finished = lane.running.front().work.test();
    } catch (const Error& e) {
      error = e;
    }
    if (error) {
      lock.unlock();
      fail(*error);
      lock.lock();
      return true;
    }
    if (!finished) break;
    if (lane.running.front().job.after) lane.running.front().job.after();
    const uint64_t id = lane.running.front().job.id;
    lane.running.pop_front();
    store(words.done, id);
    finished_[index].store(id, std::memory_order_release);
    progressed = true;
  }
  // A stream that stops delivering chunks (earlier work on it is stuck, or
  // the caller never launched what it enqueued) must not leave peers waiting
  // forever without a word.
  if (!failure_ && !lane.waiting.empty() && lane.running.empty() &&
      Clock::now() - lane.head_since > timeout_) {
    const std::string what = lane.waiting.front().what;
    lock.unlock();
    fail(Error(ErrorCode::Timeout,
               str("rank ", rank_, ": ", what, ": the stream did not stage the chunk within ",
                   std::chrono::duration<double>(timeout_).count(),
                   " s (is earlier work on the stream stuck?)")));
    lock.lock();
    return true;
  }
  return progressed;
}

bool Proxy::step() {
  std::unique_lock lock(mu_);
  if (failure_) {
    for (auto& lane : lanes_) lane.running.clear();
    return false;
  }
  bool progressed = false;
  for (int lane = 0; lane < kLanes; ++lane) progressed = advance(lane, lock) || progressed;
  lock.unlock();
  std::optional<Error> elsewhere;
  if (const auto now = Clock::now(); now - last_watch_ >= kWatchEvery) {
    last_watch_ = now;  // the proxy thread's own: step() runs only there
    std::lock_guard watching(watch_mu_);
    if (watch_) elsewhere = watch_();
  }
  if (elsewhere) {
    fail(*elsewhere);
    return true;
  }
  return progressed;
}

// While chunks are in flight the proxy spins (yielding the core between
// polls) for up to kSpin after its last progress: a timed sleep costs tens of
// microseconds of timer slack, as much as a small staged operation itself.
// Past that, and when idle, it sleeps.
void Proxy::loop() {
  constexpr auto kSpin = std::chrono::milliseconds(2);
  auto last_progress = Clock::now();
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (stop_) return;
    }
    if (step()) {
      last_progress = Clock::now();
      continue;
    }
    std::unique_lock lock(mu_);
    const bool was_busy = busy();
    if (was_busy && Clock::now() - last_progress < kSpin) {
      lock.unlock();
      std::this_thread::yield();
      continue;
    }
    // Idle: only the watch needs a look now and then; new jobs wake us.
    cv_.wait_for(lock, was_busy ? std::chrono::microseconds(50) : std::chrono::microseconds(2000),
                 [&] { return stop_ || (!was_busy && busy()); });
    if (!was_busy && busy()) last_progress = Clock::now();
  }
}

}  // namespace weft::staging
