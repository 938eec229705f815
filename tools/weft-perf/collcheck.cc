#include "collcheck.h"

#include <cmath>
#include <cstring>
#include <numeric>

#include "weft/error.h"

namespace weft::check {
namespace {

// --- element access (independent of weft's kernels) ------------------------------
uint16_t float_to_half_exact(float f) {  // exact for the small integers used here
  if (f == 0) return 0;
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  int exp = static_cast<int>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = (x >> 13) & 0x3ffu;
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | mant);
}
float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
  if (exp == 0) return (sign ? -1.0f : 1.0f) * std::ldexp(static_cast<float>(mant), -24);
  if (exp == 31) return mant ? NAN : (sign ? -INFINITY : INFINITY);
  uint32_t bits = sign | ((exp + 112) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void put(void* p, size_t i, DataType t, int64_t v) {
  char* at = static_cast<char*>(p) + i * size_of(t);
  auto store = [&](auto x) { std::memcpy(at, &x, sizeof x); };
  switch (t) {
    case DataType::f32: return store(static_cast<float>(v));
    case DataType::f64: return store(static_cast<double>(v));
    case DataType::f16: return store(float_to_half_exact(static_cast<float>(v)));
    case DataType::bf16: {
      float f = static_cast<float>(v);
      uint32_t x;
      std::memcpy(&x, &f, 4);
      return store(static_cast<uint16_t>(x >> 16));
    }
    case DataType::i8: return store(static_cast<int8_t>(v));
    case DataType::u8: return store(static_cast<uint8_t>(v));
    case DataType::i32: return store(static_cast<int32_t>(v));
    case DataType::u32: return store(static_cast<uint32_t>(v));
    case DataType::i64: return store(static_cast<int64_t>(v));
    case DataType::u64: return store(static_cast<uint64_t>(v));
  }
}

double get(const void* p, size_t i, DataType t) {
  const char* at = static_cast<const char*>(p) + i * size_of(t);
  auto load = [&](auto x) {
    std::memcpy(&x, at, sizeof x);
    return x;
  };
  switch (t) {
    case DataType::f32: return load(float{});
    case DataType::f64: return load(double{});
    case DataType::f16: return half_to_float(load(uint16_t{}));
    case DataType::bf16: {
      uint32_t x = static_cast<uint32_t>(load(uint16_t{})) << 16;
      float f;
      std::memcpy(&f, &x, 4);
      return f;
    }
    case DataType::i8: return load(int8_t{});
    case DataType::u8: return load(uint8_t{});
    case DataType::i32: return load(int32_t{});
    case DataType::u32: return load(uint32_t{});
    case DataType::i64: return static_cast<double>(load(int64_t{}));
    case DataType::u64: return static_cast<double>(load(uint64_t{}));
  }
  return 0;
}

// What a value becomes once stored in `t` (integer types wrap).
double stored(DataType t, int64_t v) {
  std::vector<char> tmp(8);
  put(tmp.data(), 0, t, v);
  return get(tmp.data(), 0, t);
}

// --- inputs and references ----------------------------------------------------------
int64_t value(int q, size_t i, ReduceOp op, bool reducing) {
  if (!reducing) return static_cast<int64_t>((static_cast<size_t>(q) * 31 + i * 17) % 101);
  switch (op) {
    case ReduceOp::prod: return (static_cast<size_t>(q) + i) % 4 == 0 ? 2 : 1;
    case ReduceOp::min:
    case ReduceOp::max: return static_cast<int64_t>((static_cast<size_t>(q) * 13 + i * 7) % 97);
    default: return static_cast<int64_t>((static_cast<size_t>(q) * 3 + i * 7) % 11);
  }
}

// The reduction over ranks 0..n-1 of value(q, i).
double reference(const CheckCase& c, int n, size_t i, double* tolerance) {
  int64_t acc = value(0, i, c.op, true);
  for (int q = 1; q < n; ++q) {
    int64_t v = value(q, i, c.op, true);
    switch (c.op) {
      case ReduceOp::sum: case ReduceOp::avg: acc += v; break;
      case ReduceOp::prod: acc *= v; break;
      case ReduceOp::min: acc = std::min(acc, v); break;
      case ReduceOp::max: acc = std::max(acc, v); break;
    }
  }
  *tolerance = 0;
  if (c.op == ReduceOp::avg) {
    if (!is_floating(c.type)) return stored(c.type, acc / n);
    double exact = static_cast<double>(acc) / n;
    double rel = c.type == DataType::f64 ? 1e-12 : c.type == DataType::f32 ? 1e-6
               : c.type == DataType::f16 ? 1e-3 : 8e-3;
    *tolerance = rel * std::max(1.0, std::fabs(exact));
    return exact;
  }
  return stored(c.type, acc);
}

struct Checker {
  const CheckCase& c;
  CheckResult result;
  void expect(const void* buf, size_t i, double want, double tol, const char* what) {
    double got = get(buf, i, c.type);
    if (std::fabs(got - want) <= tol || (got == want)) return;
    if (result.wrong++ == 0)
      result.detail = str(c.describe(), ": ", what, "[", i, "] = ", got, ", expected ", want);
  }
};

}  // namespace

const char* to_string(Coll c) {
  switch (c) {
    case Coll::allreduce: return "allreduce";
    case Coll::reduce: return "reduce";
    case Coll::broadcast: return "broadcast";
    case Coll::allgather: return "allgather";
    case Coll::allgatherv: return "allgatherv";
    case Coll::reduce_scatter: return "reduce_scatter";
    case Coll::alltoall: return "alltoall";
    case Coll::alltoallv: return "alltoallv";
    case Coll::gather: return "gather";
    case Coll::scatter: return "scatter";
  }
  return "?";
}

bool reduces(Coll c) {
  return c == Coll::allreduce || c == Coll::reduce || c == Coll::reduce_scatter;
}

std::string CheckCase::describe() const {
  return str(to_string(coll), " ", count, " x ", weft::to_string(type),
             reduces(coll) ? str(" ", weft::to_string(op)) : std::string(),
             in_place ? " in-place" : " out-of-place", " root ", root,
             shift ? str(" shifted ", shift, " bytes") : std::string());
}

namespace {

// A check's buffer: `bytes` from data(), `shift` bytes into its storage.
class Buffer {
 public:
  explicit Buffer(size_t shift) : shift_(shift) {}
  void assign(size_t bytes, char value) { storage_.assign(shift_ + bytes, value); }
  char* data() { return storage_.data() + shift_; }

 private:
  size_t shift_;
  std::vector<char> storage_;
};

}  // namespace

CheckResult run_check(Communicator& comm, const CheckCase& c) {
  const int n = comm.size(), r = comm.rank();
  const size_t N = static_cast<size_t>(n), es = size_of(c.type), count = c.count;
  const bool red = reduces(c.coll);
  Checker k{c, {}};
  auto fill = [&](Buffer& buf, size_t elems, auto&& f) {
    buf.assign(elems * es, 0x5a);  // garbage where nothing is written
    for (size_t i = 0; i < elems; ++i) put(buf.data(), i, c.type, f(i));
  };
  Buffer in(c.shift), out(c.shift);
  double tol;
  switch (c.coll) {
    case Coll::allreduce:
    case Coll::reduce: {
      fill(in, count, [&](size_t i) { return value(r, i, c.op, true); });
      void* dst = in.data();
      if (!c.in_place || (c.coll == Coll::reduce && r != c.root)) {
        out.assign(count * es, 0x5a);
        dst = out.data();
      }
      if (c.coll == Coll::allreduce)
        comm.allreduce(in.data(), dst, count, c.type, c.op).wait();
      else
        comm.reduce(in.data(), dst, count, c.type, c.op, c.root).wait();
      if (c.coll == Coll::allreduce || r == c.root)
        for (size_t i = 0; i < count; ++i) {
          double want = reference(c, n, i, &tol);
          k.expect(dst, i, want, tol, "out");
        }
      break;
    }
    case Coll::broadcast: {
      fill(in, count, [&](size_t i) { return r == c.root ? value(r, i, c.op, false) : 77; });
      comm.broadcast(in.data(), count, c.type, c.root).wait();
      for (size_t i = 0; i < count; ++i)
        k.expect(in.data(), i, stored(c.type, value(c.root, i, c.op, false)), 0, "buf");
      break;
    }
    case Coll::allgather:
    case Coll::gather: {
      const bool gets = c.coll == Coll::allgather || r == c.root;
      out.assign(gets ? count * N * es : 0, 0x5a);
      const void* src;
      if (c.in_place && gets) {
        for (size_t i = 0; i < count; ++i) put(out.data(), r * count + i, c.type, value(r, i, c.op, false));
        src = out.data() + r * count * es;
      } else {
        fill(in, count, [&](size_t i) { return value(r, i, c.op, false); });
        src = in.data();
      }
      if (c.coll == Coll::allgather)
        comm.allgather(src, out.data(), count, c.type).wait();
      else
        comm.gather(src, gets ? out.data() : nullptr, count, c.type, c.root).wait();
      if (gets)
        for (int q = 0; q < n; ++q)
          for (size_t i = 0; i < count; ++i)
            k.expect(out.data(), q * count + i, stored(c.type, value(q, i, c.op, false)), 0,
                     "out");
      break;
    }
    case Coll::allgatherv: {
      std::vector<size_t> counts(N), displs(N);
      size_t at = 0;
      for (int q = 0; q < n; ++q) {
        counts[q] = count + static_cast<size_t>(q % 3);
        displs[q] = at;
        at += counts[q] + 1;  // a one-element gap that must stay untouched
      }
      out.assign(at * es, 0);
      for (size_t i = 0; i < at; ++i) put(out.data(), i, c.type, 99);
      const void* src;
      if (c.in_place) {
        for (size_t i = 0; i < counts[r]; ++i)
          put(out.data(), displs[r] + i, c.type, value(r, i, c.op, false));
        src = out.data() + displs[r] * es;
      } else {
        fill(in, counts[r], [&](size_t i) { return value(r, i, c.op, false); });
        src = in.data();
      }
      comm.allgatherv(src, out.data(), counts, displs, c.type).wait();
      for (int q = 0; q < n; ++q) {
        for (size_t i = 0; i < counts[q]; ++i)
          k.expect(out.data(), displs[q] + i, stored(c.type, value(q, i, c.op, false)), 0,
                   "out");
        k.expect(out.data(), displs[q] + counts[q], 99, 0, "gap");
      }
      break;
    }
    case Coll::reduce_scatter: {
      fill(in, count * N, [&](size_t j) { return value(r, j, c.op, true); });
      void* dst;
      if (c.in_place) {
        dst = in.data() + r * count * es;
      } else {
        out.assign(count * es, 0x5a);
        dst = out.data();
      }
      comm.reduce_scatter(in.data(), dst, count, c.type, c.op).wait();
      for (size_t i = 0; i < count; ++i) {
        double want = reference(c, n, r * count + i, &tol);
        k.expect(dst, i, want, tol, "out");
      }
      break;
    }
    case Coll::alltoall: {
      fill(in, count * N, [&](size_t j) { return value(r, j, c.op, false); });
      void* dst = in.data();
      if (!c.in_place) {
        out.assign(count * N * es, 0x5a);
        dst = out.data();
      }
      comm.alltoall(in.data(), dst, count, c.type).wait();
      for (int q = 0; q < n; ++q)
        for (size_t i = 0; i < count; ++i)
          k.expect(dst, q * count + i, stored(c.type, value(q, r * count + i, c.op, false)), 0,
                   "out");
      break;
    }
    case Coll::alltoallv: {
      // Rank a sends count + (a + 2b) % 3 elements to rank b.
      auto len = [&](int a, int b) { return count + static_cast<size_t>((a + 2 * b) % 3); };
      std::vector<size_t> sc(N), sd(N), rc(N), rd(N);
      size_t s_at = 0, r_at = 0;
      for (int q = 0; q < n; ++q) {
        sc[q] = len(r, q);
        sd[q] = s_at;
        s_at += sc[q];
        rc[q] = len(q, r);
        rd[q] = r_at;
        r_at += rc[q];
      }
      fill(in, s_at, [&](size_t j) { return value(r, j, c.op, false); });
      out.assign(r_at * es, 0x5a);
      comm.alltoallv(in.data(), sc, sd, out.data(), rc, rd, c.type).wait();
      for (int q = 0; q < n; ++q) {
        // Rank q's displacement of its block for r.
        size_t qd = 0;
        for (int b = 0; b < r; ++b) qd += len(q, b);
        for (size_t i = 0; i < rc[q]; ++i)
          k.expect(out.data(), rd[q] + i, stored(c.type, value(q, qd + i, c.op, false)), 0,
                   "out");
      }
      break;
    }
    case Coll::scatter: {
      if (r == c.root) fill(in, count * N, [&](size_t j) { return value(r, j, c.op, false); });
      void* dst;
      if (c.in_place && r == c.root) {
        dst = in.data() + r * count * es;
      } else {
        out.assign(count * es, 0x5a);
        dst = out.data();
      }
      comm.scatter(r == c.root ? in.data() : nullptr, dst, count, c.type, c.root).wait();
      for (size_t i = 0; i < count; ++i)
        k.expect(dst, i, stored(c.type, value(c.root, r * count + i, c.op, false)), 0, "out");
      break;
    }
  }
  (void)red;
  return k.result;
}

int64_t input_value(int q, size_t i, ReduceOp op, bool reducing) {
  return value(q, i, op, reducing);
}
void put_value(void* buf, size_t i, DataType t, int64_t v) { put(buf, i, t, v); }
double get_value(const void* buf, size_t i, DataType t) { return get(buf, i, t); }
double as_stored(DataType t, int64_t v) { return stored(t, v); }
double reduced_value(DataType t, ReduceOp op, int n, size_t i, double* tolerance) {
  CheckCase c;
  c.type = t;
  c.op = op;
  return reference(c, n, i, tolerance);
}

std::string run_matrix(Communicator& comm, const std::vector<size_t>& counts) {
  std::string failures;
  for (Coll coll : kAllColls) {
    for (DataType t : kAllDataTypes) {
      for (ReduceOp op : kAllReduceOps) {
        if (!reduces(coll) && op != ReduceOp::sum) continue;
        for (size_t count : counts) {
          for (bool in_place : {false, true}) {
            CheckCase c{coll, t, op, count, in_place, static_cast<int>(count % comm.size())};
            CheckResult res = run_check(comm, c);
            if (res.wrong)
              failures += str("rank ", comm.rank(), ": ", res.wrong, " wrong: ", res.detail, "\n");
          }
        }
      }
    }
  }
  return failures;
}

}  // namespace weft::check
