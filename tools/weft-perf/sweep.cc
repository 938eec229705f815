#include "sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <CLI/CLI.hpp>

#include "collcheck.h"
#include "libraries.h"
#include "weft/error.h"

namespace weft::perf {

// --- Runner's defaults: pre-faulted host memory ---------------------------------------

std::shared_ptr<void> Runner::allocate(std::size_t bytes) {
  std::size_t rounded = (std::max<std::size_t>(bytes, 64) + 4095) / 4096 * 4096;
  void* p = std::aligned_alloc(4096, rounded);
  if (p == nullptr) throw_errno("allocating benchmark buffers");
  std::memset(p, 0, rounded);  // fault every page in now, outside any timing
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

void Runner::copy_in(void* dst, const void* host, std::size_t bytes) {
  std::memcpy(dst, host, bytes);
}

void Runner::copy_out(void* host, const void* src, std::size_t bytes) {
  std::memcpy(host, src, bytes);
}

namespace {

// Element counts of the send side and of the receive side (the result of
// allgather and alltoall spans all blocks).
struct Extent {
  std::size_t send = 0;
  std::size_t recv = 0;
};

Extent extent(Collective c, std::size_t count, int n) {
  const std::size_t all = count * static_cast<std::size_t>(n);
  switch (c) {
    case Collective::allgather: return {count, all};
    case Collective::reduce_scatter: return {all, count};
    case Collective::alltoall: return {all, all};
    default: return {count, count};
  }
}

// The rank whose block this rank receives in a sendrecv ring.
int ring_prev(int rank, int n) { return (rank - 1 + n) % n; }

// Host memory for the images below, allocated once at the largest size
// (fresh pages are slow to fault in here; see the top of sweep.h).
struct Staging {
  std::vector<char> in, out;
};

// Host images of one operation's inputs and results; moved through the
// runner's copy_in / copy_out so device buffers are checked the same way.
class Checker {
 public:
  Checker(Runner& r, const OpSpec& s, Staging& staging)
      : r_(r), s_(s), n_(r.nranks()), rank_(r.rank()), in_(staging.in), out_(staging.out) {}

  // Writes this rank's inputs, and garbage where results will land so that a
  // result left over from an earlier run cannot pass.
  void fill() {
    const Extent e = extent(s_.collective, s_.count, n_);
    const std::size_t es = size_of(s_.dtype);
    const bool red = is_reduction(s_.collective);
    const std::size_t in_bytes = e.send * es, out_bytes = std::max(e.send, e.recv) * es;
    for (std::size_t i = 0; i < e.send; ++i) {
      std::int64_t v = check::input_value(rank_, i, s_.op, red);
      if (s_.collective == Collective::broadcast) v = check::input_value(s_.root, i, s_.op, false);
      check::put_value(in_.data(), i, s_.dtype, v);
    }
    std::memset(out_.data(), 0x5a, out_bytes);
    if (!s_.in_place) {
      r_.copy_in(s_.send, in_.data(), in_bytes);
      r_.copy_in(s_.recv, out_.data(), e.recv * es);
      return;
    }
    // In place: the input goes where nccl-tests' in-place layout puts it.
    const bool root_only = s_.collective == Collective::broadcast && rank_ != s_.root;
    std::size_t at = s_.collective == Collective::allgather ? rank_ * s_.count * es : 0;
    if (!root_only) std::memcpy(out_.data() + at, in_.data(), in_bytes);
    r_.copy_in(s_.recv, out_.data(), out_bytes);
  }

  // Elements of this rank's result that differ from the reference.
  std::uint64_t count_wrong(const void* result, bool corrupt) {
    const Extent e = extent(s_.collective, s_.count, n_);
    const Collective c = s_.collective;
    const std::size_t out_elems = c == Collective::allgather || c == Collective::alltoall
                                      ? e.recv : s_.count;
    if (c == Collective::reduce && rank_ != s_.root) return 0;  // no result here
    char* out = out_.data();
    r_.copy_out(out, result, out_elems * size_of(s_.dtype));
    std::uint64_t wrong = 0;
    for (std::size_t j = 0; j < out_elems; ++j) {
      double tol = 0, want = expected(j, &tol);
      if (corrupt && j == 0) check::put_value(out, 0, s_.dtype, static_cast<std::int64_t>(want) + 1);
      double got = check::get_value(out, j, s_.dtype);
      wrong += !(got == want || std::abs(got - want) <= tol);
    }
    return wrong;
  }

 private:
  double expected(std::size_t j, double* tol) const {
    const DataType t = s_.dtype;
    const std::size_t q = j / std::max<std::size_t>(s_.count, 1), i = j % std::max<std::size_t>(s_.count, 1);
    switch (s_.collective) {
      case Collective::allreduce:
      case Collective::reduce: return check::reduced_value(t, s_.op, n_, j, tol);
      case Collective::reduce_scatter:
        return check::reduced_value(t, s_.op, n_, rank_ * s_.count + j, tol);
      case Collective::allgather:
        return check::as_stored(t, check::input_value(static_cast<int>(q), i, s_.op, false));
      case Collective::alltoall:
        return check::as_stored(
            t, check::input_value(static_cast<int>(q), rank_ * s_.count + i, s_.op, false));
      case Collective::broadcast:
        return check::as_stored(t, check::input_value(s_.root, j, s_.op, false));
      case Collective::sendrecv:
        return check::as_stored(t, check::input_value(ring_prev(rank_, n_), j, s_.op, false));
    }
    return 0;
  }

  Runner& r_;
  const OpSpec& s_;
  int n_, rank_;
  std::vector<char>& in_;
  std::vector<char>& out_;
};

// Per-call count for a requested size (0: too small for this world size).
std::size_t count_for(Collective c, std::uint64_t bytes, std::size_t elt, int n) {
  return static_cast<std::size_t>(bytes / elt / (counts_per_rank(c) ? n : 1));
}

// Bytes nccl-tests reports for a per-call count.
std::uint64_t row_bytes(Collective c, std::size_t count, std::size_t elt, int n) {
  return static_cast<std::uint64_t>(count) * elt * (counts_per_rank(c) ? n : 1);
}

struct Measured {
  double time_us = 0;
  std::uint64_t wrong = 0;
};

Measured measure(Runner& r, const SweepOptions& o, const OpSpec& spec, Staging& staging) {
  Prepared p = r.prepare(spec);
  const int n = r.nranks();
  Checker checker(r, spec, staging);
  checker.fill();
  // Batched (nccl-tests' way): n calls, then one wait for all of them.
  // Blocking: each call is waited for before the next, as a caller that
  // needs the result at once does (and as MPI's and Gloo's calls always are).
  auto run = [&](int calls) {
    if (!o.blocking) return p.op->run_batch(calls);
    for (int i = 0; i < calls; ++i) {
      p.op->launch();
      p.op->complete();
    }
  };
  if (o.warmup > 0) {
    if (!o.blocking) p.op->prepare_batch(o.warmup);
    run(o.warmup);
  }
  if (!o.blocking) p.op->prepare_batch(o.iters);
  r.barrier();
  auto t0 = std::chrono::steady_clock::now();
  run(o.iters);
  auto t1 = std::chrono::steady_clock::now();
  double local_us = std::chrono::duration<double, std::micro>(t1 - t0).count() / o.iters;
  Measured m;
  m.time_us = r.sum_all(local_us) / n;
  if (o.check) {
    // A fresh call on fresh inputs: the timed loop reduced its own outputs again.
    checker.fill();
    p.op->launch();
    p.op->complete();
    std::uint64_t local = checker.count_wrong(p.result, o.corrupt && r.rank() == 0);
    m.wrong = static_cast<std::uint64_t>(r.sum_all(static_cast<double>(local)));
  }
  return m;
}

std::vector<std::string> chosen_algorithms(Runner& r, const SweepOptions& o, bool in_place) {
  auto all = r.algorithms(o.collective, in_place);
  if (o.algo == "best") return all;
  if (std::find(all.begin(), all.end(), o.algo) != all.end()) return {o.algo};
  return {};
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s.empty() ? "-" : s;
}

void print_header(Runner& r, const SweepOptions& o, const char* op_name) {
  std::printf("# %s: %s, %d ranks, %s %s, iters %d, warmup %d, check %d%s%s\n",
              r.library().c_str(), to_string(o.collective), r.nranks(), to_string(o.dtype),
              op_name, o.iters, o.warmup, o.check ? 1 : 0, o.graph ? ", CUDA graphs" : "",
              o.blocking ? ", each call waited for" : "");
  std::printf("# %s\n", r.describe().c_str());
  auto out_algos = chosen_algorithms(r, o, false), in_algos = chosen_algorithms(r, o, true);
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
         "allreduce | allgather | reduce_scatter | broadcast | reduce | alltoall | sendrecv")
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
      "f32 f64 f16 bf16 i8 u8 i32 u32 i64 u64 (what each library supports: README.md)");
  app.add_option_function<std::string>(
      "-o,--op",
      [&o](const std::string& s) {
        auto op = parse_reduce_op(s);
        if (!op) throw CLI::ValidationError("op", "unknown op " + s);
        o.op = *op;
      },
      "sum prod min max avg");
  app.add_option("-n,--iters", o.iters, "timed iterations per size");
  app.add_option("-w,--warmup_iters", o.warmup, "untimed iterations per size");
  app.add_option("-c,--check", o.check, "check every result exactly (1) or not (0)");
  app.add_option("-r,--root", o.root, "root rank of broadcast and reduce");
  app.add_option("--algo", o.algo, "an algorithm name, or best (try each, report the fastest)");
  app.add_flag("--graph", o.graph,
               "GPU runners: capture each timed batch of calls into a CUDA graph and replay it");
  app.add_flag("--blocking", o.blocking,
               "wait for each call before the next (default: time a batch of calls, then "
               "one wait for all, as nccl-tests does)");
  app.add_flag("--register", o.register_buffers,
               "weft on GPUs: register the buffers, so weft reads and writes the peers' "
               "buffers directly (zero-copy)");
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
  WEFT_REQUIRE(!(o.blocking && o.graph), "--blocking and --graph exclude each other: a graph "
               "replays a whole batch");
}

std::vector<std::string> sweep_args(const SweepOptions& o) {
  std::vector<std::string> a = {to_string(o.collective),
                                "-b", std::to_string(o.min_bytes),
                                "-e", std::to_string(o.max_bytes),
                                "-f", std::to_string(o.factor),
                                "-d", to_string(o.dtype),
                                "-o", to_string(o.op),
                                "-n", std::to_string(o.iters),
                                "-w", std::to_string(o.warmup),
                                "-c", o.check ? "1" : "0",
                                "-r", std::to_string(o.root),
                                "--algo", o.algo};
  if (o.graph) a.push_back("--graph");
  if (o.blocking) a.push_back("--blocking");
  if (o.register_buffers) a.push_back("--register");
  if (o.corrupt) a.push_back("--corrupt-for-test");
  return a;
}

Result run_sweep(Runner& r, const SweepOptions& o) {
  validate(o);
  require_supported(library_info(r.library()), o.collective, o.dtype, o.op);
  const int n = r.nranks(), rank = r.rank();
  if (chosen_algorithms(r, o, false).empty() && chosen_algorithms(r, o, true).empty()) {
    std::vector<std::string> all = r.algorithms(o.collective, false);
    for (const auto& a : r.algorithms(o.collective, true)) {
      if (std::find(all.begin(), all.end(), a) == all.end()) all.push_back(a);
    }
    throw_error(ErrorCode::InvalidArgument,
                str(r.library(), " has no algorithm \"", o.algo, "\" for ", to_string(o.collective),
                    " (it has ", join(all), ")"));
  }
  WEFT_REQUIRE(o.root >= 0 && o.root < n, "root ", o.root, " out of range for ", n, " ranks");
  const std::size_t elt = size_of(o.dtype);
  const char* op_name = is_reduction(o.collective) ? to_string(o.op) : "none";

  Result result;
  result.library = r.library();
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
  const Extent max_extent = extent(o.collective, max_count, n);
  const std::size_t buffer_bytes = std::max(max_extent.send, max_extent.recv) * elt;
  std::shared_ptr<void> send = r.allocate(buffer_bytes), recv = r.allocate(buffer_bytes);
  Staging staging{std::vector<char>(buffer_bytes), std::vector<char>(buffer_bytes)};

  auto spec_for = [&](std::size_t count, bool in_place, const std::string& algo) {
    return OpSpec{o.collective, algo,   o.dtype, o.op,      send.get(), recv.get(), count,
                  in_place,     o.root, o.blocking};
  };

  if (rank == 0) print_header(r, o, op_name);

  // Warm every connection with the largest message first (see
  // GlooRunner::warm_up), then every algorithm once at the largest size.
  r.warm_up(buffer_bytes);
  for (bool in_place : {false, true}) {
    for (const auto& algo : chosen_algorithms(r, o, in_place)) {
      Prepared p = r.prepare(spec_for(max_count, in_place, algo));
      p.op->launch();
      p.op->complete();
    }
  }
  r.barrier();

  for (std::uint64_t size : sizes) {
    const std::size_t count = count_for(o.collective, size, elt, n);
    const std::uint64_t bytes = row_bytes(o.collective, count, elt, n);
    for (bool in_place : {false, true}) {
      auto algos = chosen_algorithms(r, o, in_place);
      if (algos.empty()) continue;
      Row row;
      row.bytes = bytes;
      row.count = count;
      row.in_place = in_place;
      row.time_us = std::numeric_limits<double>::infinity();
      for (const auto& algo : algos) {
        Measured m = measure(r, o, spec_for(count, in_place, algo), staging);
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
      std::printf("  %10llu  %12zu  %6s  %6s  %5d", static_cast<unsigned long long>(bytes), count,
                  result.dtype.c_str(), op_name, has_root(o.collective) ? o.root : -1);
      print_cell(result.find(bytes, false));
      print_cell(result.find(bytes, true));
      std::printf("\n");
      std::fflush(stdout);
    }
  }

  if (rank == 0) {
    double bw = 0;
    for (const auto& row : result.rows) bw += row.busbw_gbs;
    std::printf("# Avg bus bandwidth    : %g\n",
                result.rows.empty() ? 0.0 : bw / static_cast<double>(result.rows.size()));
    std::printf("# wrong: %llu\n", static_cast<unsigned long long>(result.total_wrong()));
    std::fflush(stdout);
    if (!o.json_path.empty()) write_result_file(o.json_path, result);
  }
  return result;
}

int exit_code(const Result& result) { return result.total_wrong() == 0 ? 0 : 1; }

}  // namespace weft::perf
