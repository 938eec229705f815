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
  }
  return "?";
}

std::optional<Algo> parse_algo(const std::string& text) {
  if (text == "ring") return Algo::ring;
  if (text == "rd" || text == "recursive_doubling") return Algo::recursive_doubling;
  if (text == "tree") return Algo::tree;
  if (text == "chain") return Algo::chain;
  return std::nullopt;
}

Planner::Planner(const std::string& forced) {
  if (forced.empty() || forced == "auto") return;
  forced_ = parse_algo(forced);
  WEFT_REQUIRE(forced_.has_value(), "WEFT_ALGO=", forced,
               " is not an algorithm (auto, ring, rd, recursive_doubling, tree, chain)");
}

Algo Planner::choose(OpKind kind, size_t bytes, int world) const {
  (void)world;
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
  log_choice(kind, algo);
  return algo;
}

void Planner::log_choice(OpKind kind, Algo algo) const {
  if (!log::enabled(log::Level::Info, "coll")) return;
  std::lock_guard lock(mutex_);
  if (logged_.insert({kind, algo}).second)
    WEFT_INFO("coll", to_string(kind), " uses ", to_string(algo),
              forced_ ? " (WEFT_ALGO)" : "");
}

}  // namespace weft::coll
