// The workers of this node in one round: started together, their output
// pumped to the console and log files, reaped, and stopped together
// (SIGTERM to every process group, SIGKILL after the grace period).
#pragma once

#include <poll.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "options.h"
#include "output.h"
#include "process.h"
#include "worker_env.h"

namespace weftrun {

struct LocalWorker {
  WorkerPlace place;
  Process process;
  std::unique_ptr<StreamSink> out;
  std::unique_ptr<StreamSink> err;
};

class WorkerGroup {
 public:
  // log_dir: per-rank files go to log_dir/rank_R/{stdout,stderr}.log ("" = none).
  WorkerGroup(const Options& options, const std::string& host, const std::vector<WorkerPlace>& places,
              const RunInfo& run, const std::string& log_dir);
  ~WorkerGroup();  // anything still running is killed

  // Adds the open pipe fds to a poll set.
  void add_poll_fds(std::vector<pollfd>& fds) const;
  // Reads whatever the pipes hold now (never blocks).
  void pump();
  // Reads the pipes until every one reached end of stream, or `limit`
  // passed (a descendant of an exited worker may hold them open), then ends
  // every stream (an unterminated last line is printed).
  void drain(std::chrono::milliseconds limit);
  // Reaps exited workers; returns the first worker seen failing (once).
  std::optional<size_t> reap_failure();
  bool all_succeeded() const;
  // Set when a worker could not be started ("rank R (host H, local rank L):
  // cannot execute ..."); the workers started before it are running.
  const std::optional<std::string>& launch_error() const { return launch_error_; }
  size_t size() const { return workers_.size(); }
  const LocalWorker& worker(size_t i) const { return *workers_[i]; }

  // `signal` (SIGTERM, or the SIGINT/SIGHUP/... weftrun itself received) to
  // every worker's process group, SIGKILL to what is left after `grace`;
  // returns when every worker is reaped. Output is drained meanwhile.
  void stop(std::chrono::milliseconds grace, int signal);

  // "rank R (host H, local rank L, pid P) exited with code C"
  std::string describe_exit(size_t i) const;

 private:
  void pump(LocalWorker& w);
  std::string host_;
  std::vector<std::unique_ptr<LocalWorker>> workers_;
  std::vector<bool> reported_;
  std::optional<std::string> launch_error_;
};

}  // namespace weftrun
