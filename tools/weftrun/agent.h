// The agent: one weftrun process per node. It hosts or joins the rendezvous
// store, then runs rounds: rendezvous, start this node's workers, watch them
// (and the other nodes, through the store) until the round succeeds or fails,
// and restarts the whole group after a worker failure while --max-restarts
// allows.
//
// Exit status: 0 when every worker of every node exited 0; the first failed
// worker's exit code (128 + signal when killed) on every node; 128 + signal
// when an agent was stopped by a signal; 1 for a lost agent or store, and for
// rendezvous errors.
#pragma once

#include "options.h"

namespace weftrun {

int run_agent(const Options& options);

}  // namespace weftrun
