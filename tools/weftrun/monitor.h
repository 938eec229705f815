// Watching one round until it ends. The agent's single loop poll()s the
// workers' pipes and the signal pipe, and every --monitor-interval looks at
// the round's store keys:
//
//   failure      the first failure anywhere (worker exit, lost agent, signal),
//                written once with compare_set; every agent watches it, so a
//                failure on one node stops the workers of every node
//   hb/<node>    each agent's heartbeat counter, bumped every keep_alive_interval;
//                a counter that has not moved for keep_alive_interval x
//                keep_alive_max_attempt names that agent as lost
//   finished     how many nodes' workers all exited 0; the round succeeded
//                when it reaches the node count
//   exited       how many agents are done with the store; the hosting agent
//                keeps the store up until all are (bounded), so nobody loses
//                it while reading the outcome
#pragma once

#include <csignal>
#include <string>

#include "group.h"
#include "rendezvous.h"
#include "signals.h"

namespace weftrun {

struct Outcome {
  enum class Kind { Success, WorkerFailed, AgentLost, StoreLost, Interrupted, LaunchFailed };
  Kind kind = Kind::Success;
  int exit_code = 0;
  std::string message;  // the one line naming what failed
  int lost_node = -1;   // AgentLost: the node rank that went silent
  bool restartable() const { return kind == Kind::WorkerFailed; }
};

// A failure as recorded in the store, so every agent reports the same one.
std::string encode_failure(const Outcome& outcome, int node_rank);
Outcome decode_failure(const std::string& record);

class RoundMonitor {
 public:
  RoundMonitor(const Options& options, Rendezvous& rendezvous, const Round& round, WorkerGroup& group,
               const SignalEvents& signals, std::string host);
  // Runs until the round ends; the workers are stopped when it returns.
  Outcome run();
  // After the last round: count this agent out of the store, and when
  // hosting, wait (bounded) for the others to do the same.
  void leave(const Outcome& outcome);

 private:
  Outcome fail(Outcome local);
  Outcome stop_for(Outcome outcome);
  std::optional<Outcome> check_store();
  std::optional<Outcome> heartbeat();

  const Options& options_;
  Rendezvous& rendezvous_;
  const Round& round_;
  WorkerGroup& group_;
  const SignalEvents& signals_;
  std::string host_;
  bool finished_reported_ = false;
  bool all_finished_ = false;
  int64_t beat_ = 0;
  int stop_signal_ = SIGTERM;
  struct Seen {
    std::string value;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<Seen> seen_;
  std::vector<int> lost_;  // node ranks known dead (not waited for in leave())
};

}  // namespace weftrun
