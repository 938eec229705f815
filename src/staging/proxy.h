// Proxy: the thread that runs the host side of staged chunks.
//
// The seed's cross-node path: the GPU copies a chunk into pinned host memory
// and tells the proxy (the `ready` word); the proxy hands the chunk to the
// host communicator (sockets, several TCP streams per peer) and, when that
// finishes, tells the stream (the `done` word), which copies the result back
// to the device. Chunks are numbered 1, 2, ... across every operation of the
// communicator; the stream signals and waits in that order (see
// staged_comm.cc), so both words only ever grow.
//
// The proxy keeps several chunks in flight (as many as the stream hands it),
// so copies and network transfers overlap. It never hangs silently: a failed
// host operation, a stream that does not deliver a chunk within the timeout,
// or a failure reported by a sibling communicator (`watch`) fails the proxy,
// raises the abort word (the stream's waits return) and is rethrown by every
// pending and later operation.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "weft/error.h"
#include "weft/work.h"

namespace weft::staging {

// The words the stream and the proxy share (pinned host memory, one cache
// line each so the device's stores and the proxy's polls do not collide).
struct alignas(64) ControlWords {
  alignas(64) uint64_t abort = 0;    // non-zero: every stream wait returns
  alignas(64) uint64_t ready = 0;    // stream -> proxy: chunks staged in
  alignas(64) uint64_t done = 0;     // proxy -> stream: chunks finished on the host
  alignas(64) uint64_t drained = 0;  // stream: chunks whose slots are free again
};

class Proxy {
 public:
  struct Job {
    uint64_t id;                // chunk number: runs once ready >= id
    std::function<Work()> run;  // starts the host operation of the chunk
    std::function<void()> after;  // optional: runs once it finished, before `done`
    std::string what;           // "allreduce #3 (staged chunk 2/5)"
  };

  Proxy(ControlWords* words, int rank, std::chrono::milliseconds timeout);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  void push(std::vector<Job> jobs);

  // Records `error` as the failure (the first one wins) and raises abort.
  void fail(const Error& error);
  std::optional<Error> failure() const;
  // Chunks finished so far (the `done` word as the host last wrote it).
  uint64_t finished() const { return finished_.load(std::memory_order_acquire); }

  // Polled while the proxy runs: a failure elsewhere that must stop it.
  void set_watch(std::function<std::optional<Error>()> watch);
  // Called once, on the proxy's thread or fail()'s caller, with the failure.
  void set_on_failure(std::function<void(const Error&)> callback);

 private:
  struct Running {
    Job job;
    Work work;
  };
  void loop();
  bool step();  // one round of progress; false when there was nothing to do

  ControlWords* const words_;
  const int rank_;
  const std::chrono::milliseconds timeout_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> waiting_;
  std::chrono::steady_clock::time_point head_since_;  // when waiting_.front() became the head
  std::deque<Running> running_;
  std::optional<Error> failure_;
  // Held while the watch / the callback runs, so that once set_watch /
  // set_on_failure returned the old one is no longer running.
  std::mutex watch_mu_, callback_mu_;
  std::function<std::optional<Error>()> watch_;
  std::function<void(const Error&)> on_failure_;
  std::atomic<uint64_t> finished_{0};
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace weft::staging
