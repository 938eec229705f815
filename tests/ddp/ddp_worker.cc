// One rank of the multi-process reducer tests (multiprocess_test.cc spawns
// one per rank with RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT).
//
//   ddp_worker train copy|view   simulated backward passes in random orders
//   ddp_worker unused copy|view  find_unused_parameters
//   ddp_worker missing           a gradient never marked, find_unused off
//   ddp_worker mismatch numel|count|dtype
//   ddp_worker hook f16|bf16     compression hook vs a float64 reference
//
// Prints "BUCKETS <assignment>" after the rebuild and ends with
// "RESULT rank=R code=OK|<ErrorCode> msg=...".
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "weft/communicator.h"
#include "weft/ddp.h"
#include "weft/error.h"

namespace {

using namespace weft;
using namespace weft::ddp;

struct Failure {
  std::string msg;
};
#define CHECK(cond, ...) \
  do {                   \
    if (!(cond)) throw Failure{str("check failed: " #cond ": ", __VA_ARGS__)}; \
  } while (0)

std::string format(const std::vector<std::vector<size_t>>& buckets) {
  std::string s;
  for (const auto& b : buckets) {
    s += "[";
    for (size_t i : b) s += std::to_string(i) + (i == b.back() ? "" : ",");
    s += "]";
  }
  return s;
}

// Type-erased element access for the test's dtypes.
double load(const void* p, DataType t, size_t k) {
  switch (t) {
    case DataType::f32: return static_cast<const float*>(p)[k];
    case DataType::f64: return static_cast<const double*>(p)[k];
    case DataType::i32: return static_cast<const int32_t*>(p)[k];
    case DataType::i64: return static_cast<double>(static_cast<const int64_t*>(p)[k]);
    default: throw Failure{"unexpected dtype"};
  }
}
void store(void* p, DataType t, size_t k, double v) {
  switch (t) {
    case DataType::f32: static_cast<float*>(p)[k] = static_cast<float>(v); break;
    case DataType::f64: static_cast<double*>(p)[k] = v; break;
    case DataType::i32: static_cast<int32_t*>(p)[k] = static_cast<int32_t>(v); break;
    case DataType::i64: static_cast<int64_t*>(p)[k] = static_cast<int64_t>(v); break;
    default: throw Failure{"unexpected dtype"};
  }
}

// `v` stored in dtype `t` (f32: rounded to nearest).
double rounded(double v, DataType t) {
  std::byte tmp[8];
  store(tmp, t, 0, v);
  return load(tmp, t, 0);
}

// Integer-valued gradients whose sum over ranks is divisible by the world
// size: g = a + 2*r*c, so the average a + c*(W-1) is exact in every dtype.
double grad_value(int rank, size_t it, size_t i, size_t k) {
  double a = static_cast<double>((i * 131 + k * 7 + it * 13) % 61) - 30;
  double c = static_cast<double>((i + k + it) % 5) - 2;
  return a + 2.0 * rank * c;
}

// The reference: the sum over every rank's contribution, divided.
double reference_avg(int world, size_t it, size_t i, size_t k,
                     const std::function<bool(int)>& contributes) {
  double sum = 0;
  for (int r = 0; r < world; ++r)
    if (contributes(r)) sum += grad_value(r, it, i, k);
  return sum / world;
}

std::vector<size_t> ready_order(int rank, size_t it, size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(static_cast<uint32_t>(1000 * it + 17 * rank + 1));
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

struct Model {
  std::vector<Param> params;
  std::vector<std::vector<std::byte>> grads;  // the caller's buffers (copy mode)
  explicit Model(std::vector<std::pair<size_t, DataType>> shapes) {
    for (auto [numel, t] : shapes) {
      grads.emplace_back(numel * size_of(t));
      params.push_back({.numel = numel, .dtype = t, .grad = grads.back().data()});
    }
  }
};

Model mixed_model() {
  return Model({{300, DataType::f32}, {17, DataType::f64}, {1000, DataType::f32},
                {64, DataType::i32}, {5, DataType::f32}, {250, DataType::f64},
                {700, DataType::f32}, {33, DataType::i64}, {128, DataType::f32},
                {1, DataType::f32}, {90, DataType::f64}, {400, DataType::f32}});
}

constexpr size_t kFirstCap = 512, kCap = 2048;

void train(Communicator& comm, bool view) {
  const int rank = comm.rank(), world = comm.size();
  Model model = mixed_model();
  const size_t n = model.params.size();
  Reducer reducer(comm, model.params,
                  {.first_bucket_bytes = kFirstCap, .bucket_bytes = kCap,
                   .gradient_as_bucket_view = view});
  const auto initial = reducer.buckets();
  CHECK(initial == assign_buckets(model.params, reverse_order(n), kFirstCap, kCap), format(initial));
  for (size_t it = 0; it < 4; ++it) {
    const auto order = ready_order(rank, it, n);
    std::vector<bool> marked(n, false);
    for (size_t i : order) {
      void* g = reducer.gradient(i);
      for (size_t k = 0; k < model.params[i].numel; ++k)
        store(g, model.params[i].dtype, k, grad_value(rank, it, i, k));
      reducer.mark_ready(i);
      marked[i] = true;
      // Launched = the leading run of buckets whose gradients are all marked.
      size_t expect = 0;
      for (const auto& b : reducer.buckets()) {
        if (!std::all_of(b.begin(), b.end(), [&](size_t m) { return marked[m]; })) break;
        ++expect;
      }
      CHECK(reducer.launched_buckets() == expect, "iteration ", it, " after parameter ", i,
            ": launched ", reducer.launched_buckets(), ", expected ", expect);
    }
    reducer.finalize();
    for (size_t i = 0; i < n; ++i) {
      const void* g = reducer.gradient(i);
      for (size_t k = 0; k < model.params[i].numel; ++k) {
        double want = reference_avg(world, it, i, k, [](int) { return true; });
        double got = load(g, model.params[i].dtype, k);
        CHECK(got == want, "iteration ", it, " parameter ", i, "[", k, "] = ", got, ", expected ",
              want);
      }
    }
    if (it == 0) {
      CHECK(reducer.rebuilt(), "not rebuilt after iteration 0");
      auto rank0 = assign_buckets(model.params, ready_order(0, 0, n), kFirstCap, kCap);
      CHECK(reducer.buckets() == rank0, format(reducer.buckets()), " vs rank 0's ", format(rank0));
      CHECK(reducer.buckets() != initial, "the rebuild changed nothing: ", format(initial));
      std::printf("BUCKETS %s\n", format(reducer.buckets()).c_str());
    }
  }
}

void unused(Communicator& comm, bool view) {
  const int rank = comm.rank(), world = comm.size();
  Model model({{100, DataType::f32}, {50, DataType::f64}, {100, DataType::f32},
               {10, DataType::i32}, {100, DataType::f32}, {7, DataType::f32}});
  const size_t n = model.params.size();
  Reducer reducer(comm, model.params,
                  {.first_bucket_bytes = 256, .bucket_bytes = 512,
                   .gradient_as_bucket_view = view, .find_unused_parameters = true});
  // Parameter 2: no rank uses it. Parameter 4: every rank but rank 1.
  auto uses = [](int r, size_t i) { return i != 2 && !(i == 4 && r == 1); };
  for (size_t it = 0; it < 3; ++it) {
    for (size_t i = 0; i < n; ++i) {
      void* g = reducer.gradient(i);
      for (size_t k = 0; k < model.params[i].numel; ++k)
        store(g, model.params[i].dtype, k, uses(rank, i) ? grad_value(rank, it, i, k) : 777);
    }
    for (size_t i : ready_order(rank, it, n))
      if (uses(rank, i)) reducer.mark_ready(i);
    reducer.finalize();
    for (size_t i = 0; i < n; ++i) {
      CHECK(reducer.used(i) == (i != 2), "used(", i, ") = ", reducer.used(i));
      const void* g = reducer.gradient(i);
      for (size_t k = 0; k < model.params[i].numel; ++k) {
        // Unused everywhere: the caller's gradient is untouched (a bucket view reads zero).
        // Rank 1 contributes nothing to parameter 4: its sum is not a multiple
        // of W, so the reference is rounded to the parameter's dtype.
        double want = i == 2 ? (view ? 0.0 : 777.0)
                             : rounded(reference_avg(world, it, i, k,
                                                     [&](int r) { return uses(r, i); }),
                                       model.params[i].dtype);
        double got = load(g, model.params[i].dtype, k);
        CHECK(got == want, "iteration ", it, " parameter ", i, "[", k, "] = ", got, ", expected ",
              want);
      }
    }
  }
}

void missing(Communicator& comm) {
  Model model({{8, DataType::f32}, {8, DataType::f32}, {8, DataType::f32}, {8, DataType::f32},
               {8, DataType::f32}});
  Reducer reducer(comm, model.params, {.first_bucket_bytes = 32, .bucket_bytes = 64});
  for (size_t i : {4, 2, 1, 0}) reducer.mark_ready(i);
  reducer.finalize();  // throws: parameter 3 never marked
}

void mismatch(Communicator& comm, const std::string& what) {
  std::vector<std::pair<size_t, DataType>> shapes = {
      {10, DataType::f32}, {20, DataType::f32}, {100, DataType::f32}, {30, DataType::f64},
      {40, DataType::i32}};
  if (what == "numel" && comm.rank() == 1) shapes[2].first = 101;
  if (what == "count" && comm.rank() == 2) shapes.push_back({8, DataType::f64});
  if (what == "dtype" && comm.rank() == 2) shapes[3].second = DataType::f32;
  Model model(shapes);
  Reducer reducer(comm, model.params, {});
}

// f32/f64 buckets through the compression hook vs a float64 reference of the
// same inputs; an i32 bucket rides along uncompressed (exact).
void hook(Communicator& comm, DataType half) {
  const int rank = comm.rank(), world = comm.size();
  Model model({{1000, DataType::f32}, {64, DataType::i32}, {500, DataType::f64},
               {3000, DataType::f32}, {257, DataType::f32}});
  const size_t n = model.params.size();
  Reducer reducer(comm, model.params,
                  {.first_bucket_bytes = 1024, .bucket_bytes = 8192,
                   .comm_hook = compress_hook(half)});
  // Tolerance, for inputs in [-1, 1] and W = 3 ranks. f16: each x/W (|x/W| <= 1/3,
  // ulp 2^-12) is rounded once: W * 2^-13 = 3.7e-4; each of the W-1 additions
  // rounds a partial sum below 1 (ulp 2^-11): 2 * 2^-12 = 4.9e-4; widening is
  // exact. Total 8.6e-4 -> 2e-3. bf16 keeps 3 significand bits fewer (8x the
  // error): 6.9e-3 -> 1.6e-2.
  const double tolerance = half == DataType::f16 ? 2e-3 : 1.6e-2;
  auto value = [](int r, size_t it, size_t i, size_t k) {
    std::mt19937_64 rng(static_cast<uint64_t>(r) * 1000003 + it * 7919 + i * 104729 + k);
    return std::uniform_real_distribution<double>(-1.0, 1.0)(rng);
  };
  double worst = 0;
  for (size_t it = 0; it < 3; ++it) {
    for (size_t i : ready_order(rank, it, n)) {
      void* g = reducer.gradient(i);
      for (size_t k = 0; k < model.params[i].numel; ++k) {
        double v = model.params[i].dtype == DataType::i32 ? grad_value(rank, it, i, k)
                                                          : value(rank, it, i, k);
        store(g, model.params[i].dtype, k, v);
      }
      reducer.mark_ready(i);
    }
    reducer.finalize();
    for (size_t i = 0; i < n; ++i) {
      const DataType t = model.params[i].dtype;
      for (size_t k = 0; k < model.params[i].numel; ++k) {
        double got = load(reducer.gradient(i), t, k);
        if (t == DataType::i32) {
          double want = reference_avg(world, it, i, k, [](int) { return true; });
          CHECK(got == want, "i32 parameter ", i, "[", k, "] = ", got, ", expected ", want);
          continue;
        }
        double sum = 0;
        for (int r = 0; r < world; ++r) {
          // The reference of an f32 parameter starts from the f32 input.
          double x = value(r, it, i, k);
          sum += t == DataType::f32 ? static_cast<double>(static_cast<float>(x)) : x;
        }
        double err = std::fabs(got - sum / world);
        worst = std::max(worst, err);
        CHECK(err <= tolerance, "iteration ", it, " parameter ", i, "[", k, "] = ", got,
              ", reference ", sum / world, ", error ", err, " > ", tolerance);
      }
    }
  }
  // Exact results would mean the hook did not compress at all.
  CHECK(worst > 0, "no rounding error at all");
  std::printf("WORST %.3g\n", worst);
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  int rank = -1;
  std::string code = "OK", msg;
  try {
    auto comm = Communicator::init_from_env();
    rank = comm.rank();
    const std::string what = args.empty() ? "" : args[0];
    const std::string arg = args.size() > 1 ? args[1] : "";
    if (what == "train") train(comm, arg == "view");
    else if (what == "unused") unused(comm, arg == "view");
    else if (what == "missing") missing(comm);
    else if (what == "mismatch") mismatch(comm, arg);
    else if (what == "hook") hook(comm, arg == "bf16" ? DataType::bf16 : DataType::f16);
    else throw Failure{"unknown scenario " + what};
  } catch (const Error& e) {
    code = to_string(e.code());
    msg = e.message();
  } catch (const Failure& f) {
    code = "FAILED";
    msg = f.msg;
  } catch (const std::exception& e) {
    code = "EXCEPTION";
    msg = e.what();
  }
  std::printf("RESULT rank=%d code=%s t_ms=%lld msg=%s\n", rank, code.c_str(), now_ms(),
              msg.c_str());
  std::fflush(stdout);
  return code == "OK" ? 0 : 1;
}
