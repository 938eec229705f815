// The result of one benchmark sweep of one library, and its JSON form.
//
// Every runner (weft, gloo, mpi, nccl) writes the same schema from the same
// sweep, so results of different libraries can be tabulated and plotted side
// by side:
//
//   {"library": "gloo|mpi|weft|nccl", "collective": "allreduce", "dtype": "f32",
//    "op": "sum", "nranks": 2,
//    "rows": [{"bytes": 1048576, "count": 262144, "time_us": 812.5,
//              "algbw_gbs": 1.29, "busbw_gbs": 1.29, "wrong": 0,
//              "in_place": false, "algo": "ring"}]}
//
// Conventions are nccl-tests' (doc/PERFORMANCE.md there):
//  - bytes: the size of the full buffer: allreduce/reduce/broadcast/sendrecv
//    the buffer, allgather the gathered output, reduce_scatter the full input,
//    alltoall the whole exchange of one rank;
//  - count: the count passed to the call (per-rank count for allgather and
//    reduce_scatter, per-peer count for alltoall);
//  - time_us: mean time of one call over the timed iterations, averaged over
//    the ranks;
//  - algbw = bytes / time; busbw = algbw * factor: allreduce 2(n-1)/n,
//    allgather, reduce_scatter and alltoall (n-1)/n, broadcast, reduce and
//    sendrecv 1.
// "algo" is optional: the algorithm that produced the row (the fastest one
// when several were tried).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace weft::perf {

enum class Collective { allreduce, allgather, reduce_scatter, broadcast, reduce, alltoall, sendrecv };
inline constexpr Collective kAllCollectives[] = {
    Collective::allreduce, Collective::allgather, Collective::reduce_scatter, Collective::broadcast,
    Collective::reduce,    Collective::alltoall,  Collective::sendrecv};

// Whether the collective combines values with a ReduceOp; whether it has a root.
bool is_reduction(Collective c) noexcept;
bool has_root(Collective c) noexcept;
// Whether nccl-tests' bytes cover all ranks' blocks (bytes = count * nranks * elt).
bool counts_per_rank(Collective c) noexcept;

const char* to_string(Collective c) noexcept;
std::optional<Collective> parse_collective(std::string_view text) noexcept;

// "64M", "1K", "4096", "1G" -> bytes (binary multiples, as nccl-tests' -b/-e).
// Throws InvalidArgument naming the text.
std::uint64_t parse_bytes(const std::string& text);

// nccl-tests' bus-bandwidth factor for `nranks` ranks.
double busbw_factor(Collective c, int nranks) noexcept;

struct Row {
  std::uint64_t bytes = 0;
  std::uint64_t count = 0;
  double time_us = 0;
  double algbw_gbs = 0;
  double busbw_gbs = 0;
  std::uint64_t wrong = 0;
  bool in_place = false;
  std::string algo;  // empty when the library has one algorithm

  // Fills algbw and busbw from bytes and time_us.
  void set_bandwidth(Collective c, int nranks);
};

struct Result {
  std::string library;     // gloo, mpi, weft, nccl
  std::string collective;  // allreduce, allgather, reduce_scatter, broadcast, ...
  std::string dtype;       // weft dtype names: f32, f64, i32, ...
  std::string op;          // sum, min, max, ... ("none" for allgather/broadcast)
  int nranks = 0;
  std::vector<Row> rows;

  std::uint64_t total_wrong() const;
  // The row for (bytes, in_place), or nullptr.
  const Row* find(std::uint64_t bytes, bool in_place) const;
};

nlohmann::json to_json(const Result& r);
// Throws weft::Error(InvalidArgument) naming the missing or mistyped field.
Result result_from_json(const nlohmann::json& j);
Result read_result_file(const std::string& path);
void write_result_file(const std::string& path, const Result& r);

}  // namespace weft::perf
