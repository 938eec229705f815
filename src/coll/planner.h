// Which algorithm runs a collective: by message size and world size, unless
// WEFT_ALGO forces one (ring | recursive_doubling (rd) | tree | chain). A
// forced algorithm that cannot run a collective is ignored for it.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "coll/op_desc.h"

namespace weft::coll {

enum class Algo : uint8_t { ring, recursive_doubling, tree, chain, direct, pairwise, dissemination };
const char* to_string(Algo algo) noexcept;
std::optional<Algo> parse_algo(const std::string& text);

class Planner {
 public:
  // `forced` as WEFT_ALGO spells it ("auto" or empty: the planner decides).
  explicit Planner(const std::string& forced);
  Algo choose(OpKind kind, size_t bytes, int world) const;

  // Below this size allreduce / broadcast / reduce use their latency-optimal
  // algorithm (measured on loopback TCP; see bench/results).
  static constexpr size_t kSmallBytes = 256 * 1024;

 private:
  void log_choice(OpKind kind, Algo algo) const;
  std::optional<Algo> forced_;
  mutable std::mutex mutex_;
  mutable std::set<std::pair<OpKind, Algo>> logged_;
};

}  // namespace weft::coll
