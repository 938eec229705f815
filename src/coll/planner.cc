#include "coll/planner.h"

#include "weft/error.h"
#include "weft/log.h"

namespace weft::coll {

const char* to_string(Algo algo) noexcept {
  switch (algo) {
    case Algo::ring: return "ring";
    case Algo::recursive_doubling: return "recursive_doubling";
    case Algo::tree: return "tree";
    case Algo::chain: return "chain";
    case Algo::direct: return "direct";
    case Algo::pairwise: return "pairwise";
    case Algo::dissemination: return "dissemination";
    case Algo::shm: return "shm";
    case Algo::hierarchical: return "hierarchical";
  }
  return "?";
}

std::optional<Algo> parse_algo(const std::string& text) {
  if (text == "ring") return Algo::ring;
  if (text == "rd" || text == "recursive_doubling") return Algo::recursive_doubling;
  if (text == "tree") return Algo::tree;
  if (text == "chain") return Algo::chain;
  if (text == "shm") return Algo::shm;
  if (text == "hier" || text == "hierarchical") return Algo::hierarchical;
  return std::nullopt;
}

Planner::Planner(const std::string& forced) {
  if (forced.empty() || forced == "auto") return;
  forced_ = parse_algo(forced);
  WEFT_REQUIRE(forced_.has_value(), "WEFT_ALGO=", forced,
               " is not an algorithm (auto, ring, rd, recursive_doubling, tree, chain, shm, "
               "hierarchical)");
}

Algo Planner::choose(OpKind kind, size_t bytes, int world) const {
  const bool forced_socket =
      forced_ && *forced_ != Algo::shm && *forced_ != Algo::hierarchical;
  const bool shm_kind = kind == OpKind::allreduce || kind == OpKind::reduce ||
                        kind == OpKind::broadcast || kind == OpKind::allgather ||
                        kind == OpKind::reduce_scatter || kind == OpKind::barrier;
  if (world > 1 && shm_kind && topo_.hosts == 1 && topo_.shm && !forced_socket) {
    log_choice(kind, Algo::shm, [&] {
      return str("all ", world, " ranks on one host: shared memory",
                 forced_ ? " (WEFT_ALGO)" : "");
    });
    return Algo::shm;
  }
  const bool hier_kind =
      kind == OpKind::allreduce || kind == OpKind::broadcast || kind == OpKind::reduce;
  if (hier_kind && topo_.hosts > 1 && topo_.shm && !forced_socket &&
      (topo_.max_ranks_per_host > 1 || (forced_ && *forced_ == Algo::hierarchical))) {
    log_choice(kind, Algo::hierarchical, [&] {
      return str(world, " ranks on ", topo_.hosts,
                 " hosts: shared memory within each, sockets between host leaders",
                 forced_ ? " (WEFT_ALGO)" : "");
    });
    return Algo::hierarchical;
  }
  const bool small = bytes <= kSmallBytes;
  Algo algo = Algo::direct;
  switch (kind) {
    case OpKind::allreduce:
      algo = small ? Algo::recursive_doubling : Algo::ring;
      if (forced_ && (*forced_ == Algo::ring || *forced_ == Algo::recursive_doubling))
        algo = *forced_;
      break;
    case OpKind::broadcast:
      algo = small ? Algo::tree : Algo::chain;
      if (forced_ && (*forced_ == Algo::tree || *forced_ == Algo::chain)) algo = *forced_;
      if (forced_ && *forced_ == Algo::ring) algo = Algo::chain;
      break;
    case OpKind::reduce:
      algo = small ? Algo::tree : Algo::ring;
      if (forced_ && (*forced_ == Algo::tree || *forced_ == Algo::ring)) algo = *forced_;
      break;
    case OpKind::allgather:
    case OpKind::allgatherv:
    case OpKind::reduce_scatter:
      algo = Algo::ring;
      break;
    case OpKind::alltoall:
    case OpKind::alltoallv:
      algo = Algo::pairwise;
      break;
    case OpKind::barrier:
      algo = Algo::dissemination;
      break;
    default:
      algo = Algo::direct;
  }
  log_choice(kind, algo, [&]() -> std::string {
    if (forced_socket) return "WEFT_ALGO";
    if (shm_kind && world > 1 && !topo_.why_no_shm.empty()) return topo_.why_no_shm;
    if (forced_ && algo == *forced_) return "WEFT_ALGO";
    const bool by_size =
        kind == OpKind::allreduce || kind == OpKind::broadcast || kind == OpKind::reduce;
    return by_size ? (small ? "small message" : "large message") : "its only algorithm";
  });
  return algo;
}

bool Planner::log_enabled() { return log::enabled(log::Level::Info, "coll"); }

void Planner::log_first_choice(OpKind kind, Algo algo, const std::string& why) const {
  std::lock_guard lock(mutex_);
  if (logged_.insert({kind, algo}).second)
    WEFT_INFO("coll", to_string(kind), " uses ", to_string(algo), " (", why, ")");
}

}  // namespace weft::coll
