// Which algorithm runs a collective: by message size, world size and
// topology, unless WEFT_ALGO forces one (ring | recursive_doubling (rd) |
// tree | chain | shm | hierarchical (hier)). A forced algorithm that cannot
// run a collective is ignored for it.
//
// Topology: when every rank shares one host and the shared segment exists
// (no rank set WEFT_SHM_DISABLE), allreduce, reduce, broadcast, allgather,
// reduce_scatter and barrier run through shared memory at every size (the
// choice must not depend on anything ranks could disagree on, or a mismatch
// could hang instead of being reported). When ranks span several hosts and
// some host has several, allreduce, broadcast and reduce are hierarchical.
// Forcing a socket algorithm turns both off.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "coll/op_desc.h"

namespace weft::coll {

enum class Algo : uint8_t {
  ring, recursive_doubling, tree, chain, direct, pairwise, dissemination, shm, hierarchical,
};
const char* to_string(Algo algo) noexcept;
std::optional<Algo> parse_algo(const std::string& text);

// What the planner knows of where the ranks are (the same on every rank).
struct Topology {
  int hosts = 1;
  int max_ranks_per_host = 1;
  bool shm = false;          // every host with several ranks has its shared segment
  std::vector<int> leaders;      // the lowest rank of each host, sorted
  std::vector<int> host_leader;  // per rank: the lowest rank of its host
  std::string why_no_shm;    // for the log, when shm is false
};

class Planner {
 public:
  // `forced` as WEFT_ALGO spells it ("auto" or empty: the planner decides).
  explicit Planner(const std::string& forced);
  // Set once by init, before the first operation.
  void set_topology(Topology topology) { topo_ = std::move(topology); }
  const Topology& topology() const { return topo_; }
  Algo choose(OpKind kind, size_t bytes, int world) const;

  // Below this size allreduce / broadcast / reduce use their latency-optimal
  // algorithm (measured on loopback TCP; see bench/results).
  static constexpr size_t kSmallBytes = 256 * 1024;

 private:
  // Logs the first choice of `algo` for `kind` at INFO; `why()` builds the
  // reason, only when that log is on (choose() runs for every operation).
  template <typename Why>
  void log_choice(OpKind kind, Algo algo, Why&& why) const {
    if (log_enabled()) log_first_choice(kind, algo, why());
  }
  static bool log_enabled();
  void log_first_choice(OpKind kind, Algo algo, const std::string& why) const;
  std::optional<Algo> forced_;
  Topology topo_;
  mutable std::mutex mutex_;
  mutable std::set<std::pair<OpKind, Algo>> logged_;
};

}  // namespace weft::coll
