#include "sweep.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>

#include <CLI/CLI.hpp>

#include "typed.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

bool is_reduction(Collective c) {
  return c == Collective::allreduce || c == Collective::reduce_scatter;
}

// The integer-valued input of rank r at element i: small enough that sums over
// hundreds of ranks stay exact in f32, varied enough that a misplaced chunk or
// a missing contribution changes the value.
template <typename T>
T input_value(int r, std::size_t i) {
  return static_cast<T>((i * 7 + static_cast<std::size_t>(r) * 13) % 23 + 1);
}

template <typename T>
T combine(ReduceOp op, T a, T b) {
  switch (op) {
    case ReduceOp::min: return std::min(a, b);
    case ReduceOp::max: return std::max(a, b);
    default: return a + b;
  }
}

// Reduction over all ranks of element i, in the same integer-valued domain.
template <typename T>
T reduced_value(ReduceOp op, int nranks, std::size_t i) {
  T acc = input_value<T>(0, i);
  for (int q = 1; q < nranks; ++q) acc = combine(op, acc, input_value<T>(q, i));
  return acc;
}

// The element count of the send side, the receive side and the result.
struct Extent {
  std::size_t send = 0;
  std::size_t recv = 0;
};

Extent extent(Collective c, std::size_t count, int n) {
  switch (c) {
    case Collective::allgather: return {count, count * n};
    case Collective::reduce_scatter: return {count * n, count};
    default: return {count, count};
  }
}

struct Buffers {
  void* send = nullptr;
  void* recv = nullptr;
  std::size_t bytes = 0;
  Buffers(std::size_t bytes_each) : bytes(std::max<std::size_t>(bytes_each, 64)) {
    std::size_t rounded = (bytes + 4095) / 4096 * 4096;
    send = std::aligned_alloc(4096, rounded);
    recv = std::aligned_alloc(4096, rounded);
    if (send == nullptr || recv == nullptr) throw_errno("allocating benchmark buffers");
    // Pre-fault every page now, outside any timing.
    std::memset(send, 0, rounded);
    std::memset(recv, 0, rounded);
  }
  ~Buffers() {
    std::free(send);
    std::free(recv);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
};

// Writes the inputs of `spec` for this rank, and clears the output so that a
// result left over from an earlier run cannot pass the check.
template <typename T>
void fill_inputs(const OpSpec& s, int rank, int n) {
  auto* send = static_cast<T*>(s.send);
  auto* recv = static_cast<T*>(s.recv);
  Extent e = extent(s.collective, s.count, n);
  if (!s.in_place) std::fill(recv, recv + e.recv, T(0));
  switch (s.collective) {
    case Collective::allreduce:
    case Collective::reduce_scatter: {
      T* in = s.in_place ? recv : send;
      for (std::size_t i = 0; i < e.send; ++i) in[i] = input_value<T>(rank, i);
      break;
    }
    case Collective::allgather: {
      if (s.in_place) std::fill(recv, recv + e.recv, T(0));
      T* in = s.in_place ? recv + static_cast<std::size_t>(rank) * s.count : send;
      for (std::size_t i = 0; i < s.count; ++i) in[i] = input_value<T>(rank, i);
      break;
    }
    case Collective::broadcast: {
      T* in = s.in_place ? recv : send;
      for (std::size_t i = 0; i < s.count; ++i) {
        in[i] = rank == s.root ? input_value<T>(s.root, i) : T(0);
      }
      break;
    }
  }
}

template <typename T>
std::uint64_t count_wrong(const OpSpec& s, const void* result, int rank, int n) {
  const auto* out = static_cast<const T*>(result);
  std::uint64_t wrong = 0;
  switch (s.collective) {
    case Collective::allreduce:
      for (std::size_t i = 0; i < s.count; ++i) wrong += out[i] != reduced_value<T>(s.op, n, i);
      break;
    case Collective::reduce_scatter: {
      std::size_t base = static_cast<std::size_t>(rank) * s.count;
      for (std::size_t i = 0; i < s.count; ++i) {
        wrong += out[i] != reduced_value<T>(s.op, n, base + i);
      }
      break;
    }
    case Collective::allgather:
      for (int q = 0; q < n; ++q) {
        const T* chunk = out + static_cast<std::size_t>(q) * s.count;
        for (std::size_t i = 0; i < s.count; ++i) wrong += chunk[i] != input_value<T>(q, i);
      }
      break;
    case Collective::broadcast:
      for (std::size_t i = 0; i < s.count; ++i) wrong += out[i] != input_value<T>(s.root, i);
      break;
  }
  return wrong;
}

// Bytes nccl-tests reports for a per-call count.
std::uint64_t row_bytes(Collective c, std::size_t count, std::size_t elt, int n) {
  bool full = c == Collective::allgather || c == Collective::reduce_scatter;
  return static_cast<std::uint64_t>(count) * elt * (full ? n : 1);
}

// Per-call count for a requested size (0: too small for this world size).
std::size_t count_for(Collective c, std::uint64_t bytes, std::size_t elt, int n) {
  bool full = c == Collective::allgather || c == Collective::reduce_scatter;
  return static_cast<std::size_t>(bytes / elt / (full ? n : 1));
}

struct Measured {
  double time_us = 0;
  std::uint64_t wrong = 0;
};

Measured measure(Backend& b, const SweepOptions& o, const OpSpec& spec) {
  Prepared p = b.prepare(spec);
  const int rank = b.rank(), n = b.nranks();
  visit_dtype(spec.dtype, [&](auto t) { fill_inputs<decltype(t)>(spec, rank, n); });
  for (int i = 0; i < o.warmup; ++i) p.op->run();
  b.barrier();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < o.iters; ++i) p.op->run();
  auto t1 = std::chrono::steady_clock::now();
  double local_us = std::chrono::duration<double, std::micro>(t1 - t0).count() / o.iters;
  Measured m;
  m.time_us = b.sum_all(local_us) / n;
  if (o.check) {
    // A fresh run on fresh inputs: the timed loop reduced its own outputs again.
    visit_dtype(spec.dtype, [&](auto t) { fill_inputs<decltype(t)>(spec, rank, n); });
    p.op->run();
    if (o.corrupt && rank == 0) {
      // Test hook: spoil the first result element (the value can never be 0).
      visit_dtype(spec.dtype, [&](auto t) {
        using T = decltype(t);
        *static_cast<T*>(const_cast<void*>(p.result)) = T(0);
      });
    }
    std::uint64_t local = visit_dtype(spec.dtype, [&](auto t) {
      return count_wrong<decltype(t)>(spec, p.result, rank, n);
    });
    m.wrong = static_cast<std::uint64_t>(b.sum_all(static_cast<double>(local)));
  }
  return m;
}

std::vector<std::string> chosen_algorithms(Backend& b, const SweepOptions& o, bool in_place) {
  auto all = b.algorithms(o.collective, in_place);
  if (o.algo == "best") return all;
  if (std::find(all.begin(), all.end(), o.algo) != all.end()) return {o.algo};
  return {};
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s.empty() ? "-" : s;
}

void print_header(Backend& b, const SweepOptions& o, const char* op_name) {
  std::printf("# %s: %s, %d ranks, %s %s, iters %d, warmup %d, check %d\n",
              b.library().c_str(), to_string(o.collective), b.nranks(), to_string(o.dtype),
              op_name, o.iters, o.warmup, o.check ? 1 : 0);
  std::printf("# %s\n", b.describe().c_str());
  auto out_algos = chosen_algorithms(b, o, false), in_algos = chosen_algorithms(b, o, true);
  bool several = out_algos.size() > 1 || in_algos.size() > 1;
  std::printf("# algorithms: out-of-place %s; in-place %s%s\n", join(out_algos).c_str(),
              join(in_algos).c_str(), several ? " (each row: the fastest)" : "");
  std::printf("#\n");
  std::printf("# %10s  %12s  %6s  %6s  %5s  %-51s  %-51s\n", "", "", "", "", "",
              "                     out-of-place", "                     in-place");
  std::printf("# %10s  %12s  %6s  %6s  %5s", "size", "count", "type", "redop", "root");
  for (int k = 0; k < 2; ++k) {
    std::printf("  %10s  %7s  %7s  %6s  %-16s", "time", "algbw", "busbw", "#wrong", "algo");
  }
  std::printf("\n# %10s  %12s  %6s  %6s  %5s", "(B)", "(elements)", "", "", "");
  for (int k = 0; k < 2; ++k) {
    std::printf("  %10s  %7s  %7s  %6s  %-16s", "(us)", "(GB/s)", "(GB/s)", "", "");
  }
  std::printf("\n");
  std::fflush(stdout);
}

void print_cell(const Row* r) {
  if (r == nullptr) {
    std::printf("  %10s  %7s  %7s  %6s  %-16s", "N/A", "N/A", "N/A", "N/A", "");
    return;
  }
  std::printf("  %10.1f  %7.2f  %7.2f  %6llu  %-16s", r->time_us, r->algbw_gbs, r->busbw_gbs,
              static_cast<unsigned long long>(r->wrong), r->algo.c_str());
}

}  // namespace

void add_sweep_options(CLI::App& app, SweepOptions& o) {
  app.add_option_function<std::string>(
         "collective",
         [&o](const std::string& s) {
           auto c = parse_collective(s);
           if (!c) throw CLI::ValidationError("collective", "unknown collective " + s);
           o.collective = *c;
         },
         "allreduce | allgather | reduce_scatter | broadcast")
      ->required();
  app.add_option_function<std::string>(
      "-b,--minbytes", [&o](const std::string& s) { o.min_bytes = parse_bytes(s); },
      "smallest size (bytes; K/M/G suffixes)");
  app.add_option_function<std::string>(
      "-e,--maxbytes", [&o](const std::string& s) { o.max_bytes = parse_bytes(s); },
      "largest size");
  app.add_option("-f,--stepfactor", o.factor, "size multiplier between rows");
  app.add_option_function<std::string>(
      "-d,--datatype",
      [&o](const std::string& s) {
        auto t = parse_data_type(s);
        if (!t) throw CLI::ValidationError("datatype", "unknown datatype " + s);
        o.dtype = *t;
      },
      "f32 | f64 | i32 | i64");
  app.add_option_function<std::string>(
      "-o,--op",
      [&o](const std::string& s) {
        auto op = parse_reduce_op(s);
        if (!op) throw CLI::ValidationError("op", "unknown op " + s);
        o.op = *op;
      },
      "sum | min | max");
  app.add_option("-n,--iters", o.iters, "timed iterations per size");
  app.add_option("-w,--warmup_iters", o.warmup, "untimed iterations per size");
  app.add_option("-c,--check", o.check, "check every result exactly (1) or not (0)");
  app.add_option("-r,--root", o.root, "root rank of broadcast");
  app.add_option("--algo", o.algo, "an algorithm name, or best (try each, report the fastest)");
  app.add_option("--json", o.json_path, "write the result as JSON here (rank 0)");
  app.add_flag("--corrupt-for-test", o.corrupt,
               "spoil one result element per checked row (tests the checker)")
      ->group("");
}

void validate(const SweepOptions& o) {
  WEFT_REQUIRE(o.min_bytes > 0 && o.min_bytes <= o.max_bytes,
               "need 0 < minbytes <= maxbytes, got ", o.min_bytes, " and ", o.max_bytes);
  WEFT_REQUIRE(o.factor >= 2, "stepfactor must be >= 2, got ", o.factor);
  WEFT_REQUIRE(o.iters >= 1 && o.warmup >= 0, "need iters >= 1 and warmup >= 0");
  WEFT_REQUIRE(comparator_supports(o.dtype), "comparators support f32, f64, i32 and i64, not ",
               to_string(o.dtype));
  WEFT_REQUIRE(o.op == ReduceOp::sum || o.op == ReduceOp::min || o.op == ReduceOp::max,
               "comparators support the ops sum, min and max, not ", to_string(o.op));
}

Result run_sweep(Backend& b, const SweepOptions& o) {
  validate(o);
  const int n = b.nranks(), rank = b.rank();
  WEFT_REQUIRE(o.root >= 0 && o.root < n, "root ", o.root, " out of range for ", n, " ranks");
  const std::size_t elt = size_of(o.dtype);
  const char* op_name = is_reduction(o.collective) ? to_string(o.op) : "none";

  Result result;
  result.library = b.library();
  result.collective = to_string(o.collective);
  result.dtype = to_string(o.dtype);
  result.op = op_name;
  result.nranks = n;

  std::vector<std::uint64_t> sizes;
  for (std::uint64_t s = o.min_bytes; s <= o.max_bytes; s *= o.factor) {
    if (count_for(o.collective, s, elt, n) > 0) sizes.push_back(s);
    if (s > std::numeric_limits<std::uint64_t>::max() / o.factor) break;
  }
  WEFT_REQUIRE(!sizes.empty(), "no size in [", o.min_bytes, ", ", o.max_bytes,
               "] holds one element per rank");
  const std::size_t max_count = count_for(o.collective, sizes.back(), elt, n);
  Extent max_extent = extent(o.collective, max_count, n);
  Buffers buffers(std::max(max_extent.send, max_extent.recv) * elt);

  auto spec_for = [&](std::size_t count, bool in_place, const std::string& algo) {
    OpSpec s{o.collective, algo, o.dtype, o.op, buffers.send, buffers.recv, count,
             in_place,    o.root};
    return s;
  };

  if (rank == 0) print_header(b, o, op_name);

  // Warm every connection with the largest message first (see
  // GlooBackend::warm_up), then every algorithm once at the largest size.
  b.warm_up(std::max(max_extent.send, max_extent.recv) * elt);
  for (bool in_place : {false, true}) {
    for (const auto& algo : chosen_algorithms(b, o, in_place)) {
      Prepared p = b.prepare(spec_for(max_count, in_place, algo));
      p.op->run();
    }
  }
  b.barrier();

  for (std::uint64_t size : sizes) {
    const std::size_t count = count_for(o.collective, size, elt, n);
    for (bool in_place : {false, true}) {
      auto algos = chosen_algorithms(b, o, in_place);
      if (algos.empty()) continue;
      Row row;
      row.bytes = row_bytes(o.collective, count, elt, n);
      row.count = count;
      row.in_place = in_place;
      row.time_us = std::numeric_limits<double>::infinity();
      for (const auto& algo : algos) {
        Measured m = measure(b, o, spec_for(count, in_place, algo));
        row.wrong += m.wrong;  // any algorithm's wrong result counts
        if (m.time_us < row.time_us) {
          row.time_us = m.time_us;
          row.algo = algo;
        }
      }
      row.set_bandwidth(o.collective, n);
      result.rows.push_back(row);
    }
    if (rank == 0) {
      std::printf("  %10llu  %12zu  %6s  %6s  %5d", static_cast<unsigned long long>(
                                                        row_bytes(o.collective, count, elt, n)),
                  count, result.dtype.c_str(), op_name,
                  o.collective == Collective::broadcast ? o.root : -1);
      print_cell(result.find(row_bytes(o.collective, count, elt, n), false));
      print_cell(result.find(row_bytes(o.collective, count, elt, n), true));
      std::printf("\n");
      std::fflush(stdout);
    }
  }

  if (rank == 0) {
    double bw = 0;
    for (const auto& r : result.rows) bw += r.busbw_gbs;
    std::printf("# Avg bus bandwidth    : %g\n", result.rows.empty() ? 0.0 : bw / result.rows.size());
    std::printf("# wrong: %llu\n", static_cast<unsigned long long>(result.total_wrong()));
    std::fflush(stdout);
    if (!o.json_path.empty()) write_result_file(o.json_path, result);
  }
  return result;
}

int exit_code(const Result& result) { return result.total_wrong() == 0 ? 0 : 1; }

}  // namespace weft::perf
