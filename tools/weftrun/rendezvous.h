// Rendezvous: how the agents of a job find each other and agree on ranks.
//
// Store. One agent hosts the store (an embedded weft::StoreServer); the others
// connect to it. Like torchrun's c10d backend, the agent whose --rdzv-endpoint
// host is one of its own addresses hosts it, falling back to joining when the
// port is already taken (another agent of this host won the race); the static
// backend has node rank 0 host it; --rdzv-conf is_host=true|false forces it.
//
// Rounds. Every (re)start of the worker group is a round k with its own key
// space "weftrun/<run id>/r<k>/", so a restart never sees the keys of the last
// round. In a round each agent:
//   1. takes an arrival number: add("joined", 1)
//   2. waits until the round closes: --nnodes MAX arrived, or MIN arrived and
//      last_call_timeout passed ("closed" holds the node count, set once by
//      compare_set); gives up after join_timeout naming how many arrived
//   3. takes its node rank: --node-rank when given, else its arrival number
//      (stable: first come, first served), and publishes "node/<rank>" (host,
//      address, workers, pid) with compare_set, so two agents claiming one
//      rank is an error rather than a silent overwrite
//   4. reads every "node/<i>": its global ranks start after the workers of
//      all lower node ranks; WORLD_SIZE is the sum.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "options.h"
#include "weft/store.h"

namespace weftrun {

struct NodeInfo {
  std::string host;   // WEFT_HOST_ID or the host name
  std::string addr;   // --local-addr, or empty
  int nproc = 0;
  int pid = 0;
  int max_restarts = 0;
};

struct Round {
  int index = 0;      // restart count
  int node_rank = 0;
  int nnodes = 0;
  std::vector<NodeInfo> nodes;  // by node rank
  int rank_offset = 0;          // global rank of this node's local rank 0
  int world_size = 0;
  std::shared_ptr<weft::Store> store;  // this round's key space
};

// Called while waiting; throws to abandon the wait (a termination signal).
using InterruptCheck = std::function<void()>;

class Rendezvous {
 public:
  // Hosts or connects to the store. Throws weft::Error when neither works.
  Rendezvous(const Options& options, std::string host_label);
  ~Rendezvous();

  Round join(int round, const InterruptCheck& interrupted);

  bool hosting() const { return server_ != nullptr; }
  // What workers get as MASTER_ADDR / MASTER_PORT.
  const std::string& store_host() const { return store_host_; }
  uint16_t store_port() const { return store_port_; }
  // "10.0.0.1:29400, hosted by this agent" / "..., hosted by the agent on host ns0"
  std::string store_description();
  weft::Store& base() { return *base_; }

 private:
  const Options& options_;
  std::string host_label_;
  std::string prefix_;  // "weftrun/<run id>"
  std::unique_ptr<weft::StoreServer> server_;
  std::shared_ptr<weft::Store> base_;
  std::string store_host_;
  uint16_t store_port_ = 0;
  std::string store_owner_;  // host label of the hosting agent, once known
};

// Whether `host` names this machine: "localhost", the host name, or an address
// (after resolving) of one of its interfaces — torchrun's test for "I host the store".
bool is_local_host(const std::string& host);

// WEFT_HOST_ID when set (tests that fake hosts with namespaces), else the host name.
std::string host_label();

}  // namespace weftrun
