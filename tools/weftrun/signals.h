// The agent's signal handling, turned into file-descriptor events so the one
// monitoring loop can poll() workers' pipes, child exits and termination
// requests together (the self-pipe trick).
//
//   SIGINT, SIGTERM, SIGHUP, SIGQUIT  -> recorded; the agent forwards a stop to
//                                        every worker on every node, then exits
//   SIGCHLD                           -> wakes the loop to reap workers
//   SIGPIPE                           -> ignored (a closed console must not kill the job)
#pragma once

namespace weftrun {

class SignalEvents {
 public:
  SignalEvents();   // installs the handlers (one instance per process)
  ~SignalEvents();  // restores the previous dispositions
  SignalEvents(const SignalEvents&) = delete;
  SignalEvents& operator=(const SignalEvents&) = delete;

  // Readable when a signal arrived; drain() empties it.
  int fd() const;
  void drain() const;
  // The first termination signal received, 0 if none.
  int termination_signal() const;
};

}  // namespace weftrun
