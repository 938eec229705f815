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
// Chunks travel in lanes: collectives, sends and receives each have their
// own words, slots and order, so that a receive waiting for its peer's send
// never holds up this rank's own send (a ring shift posts both at once). The
// proxy keeps several chunks per lane in flight (as many as the stream hands
// it), so copies and network transfers overlap. It never hangs silently: a failed
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

enum class Lane : int { collective = 0, send = 1, recv = 2 };
inline constexpr int kLanes = 3;

class Proxy {
 public:
  struct Job {
    Lane lane;
    uint64_t id;                // chunk number in its lane: runs once ready >= id
    std::function<Work()> run;  // starts the host operation of the chunk
    std::function<void()> after;  // optional: runs once it finished, before `done`
    std::string what;           // "allreduce #3 (staged chunk 2/5)"
  };

  // `words`: one ControlWords per lane; the first one's abort word is the
  // abort word of every lane.
  Proxy(ControlWords* words, int rank, std::chrono::milliseconds timeout);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  void push(std::vector<Job> jobs);

  // Records `error` as the failure (the first one wins) and raises abort.
  void fail(const Error& error);
  std::optional<Error> failure() const;
  // Chunks of `lane` finished so far (its `done` word as the host last wrote it).
  uint64_t finished(Lane lane) const {
    return finished_[static_cast<int>(lane)].load(std::memory_order_acquire);
  }

  // Polled while the proxy runs: a failure elsewhere that must stop it.
  void set_watch(std::function<std::optional<Error>()> watch);
  // Called once, on the proxy's thread or fail()'s caller, with the failure.
  void set_on_failure(std::function<void(const Error&)> callback);

 private:
  struct Running {
    Job job;
    Work work;
  };
  struct LaneState {
    std::deque<Job> waiting;
    std::chrono::steady_clock::time_point head_since;  // when waiting.front() became the head
    std::deque<Running> running;
  };
  void loop();
  bool step();  // one round of progress; false when there was nothing to do
  // Starts the staged chunks and retires the finished ones of one lane;
  // returns whether anything moved. Called with mu_ held (released around
  // calls into the host communicator).
  bool advance(int lane, std::unique_lock<std::mutex>& lock);
  bool busy() const;  // mu_ held

  ControlWords* const words_;
  const int rank_;
  const std::chrono::milliseconds timeout_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  LaneState lanes_[kLanes];
  std::optional<Error> failure_;
  // Held while the watch / the callback runs, so that once set_watch /
  // set_on_failure returned the old one is no longer running.
  std::mutex watch_mu_, callback_mu_;
  std::function<std::optional<Error>()> watch_;
  std::function<void(const Error&)> on_failure_;
  std::atomic<uint64_t> finished_[kLanes] = {};
  // The watch takes other communicators' locks: while the proxy spins it is
  // consulted at most once per kWatchEvery, not on every poll.
  static constexpr std::chrono::milliseconds kWatchEvery{1};
  std::chrono::steady_clock::time_point last_watch_{};
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace weft::staging
