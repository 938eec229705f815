#include "mpi_backend.h"

#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstdint>
#include <functional>

#include "typed.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

class FnOp final : public Op {
 public:
  explicit FnOp(std::function<void()> fn) : fn_(std::move(fn)) {}
  void run() override { fn_(); }

 private:
  std::function<void()> fn_;
};

MPI_Datatype mpi_type(DataType t) {
  switch (t) {
    case DataType::f32: return MPI_FLOAT;
    case DataType::f64: return MPI_DOUBLE;
    case DataType::i32: return MPI_INT32_T;
    case DataType::i64: return MPI_INT64_T;
    default: break;
  }
  throw_error(ErrorCode::Unsupported, str("mpi: no datatype for ", to_string(t)));
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::min: return MPI_MIN;
    case ReduceOp::max: return MPI_MAX;
    default: return MPI_SUM;
  }
}

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw_error(ErrorCode::SystemError, str("mpi: ", what, " failed: ", std::string(text, len)));
}

}  // namespace

MpiBackend::MpiBackend() {
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks_);
}

void MpiBackend::barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

double MpiBackend::sum_all(double value) {
  double out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  return out;
}

std::vector<std::string> MpiBackend::algorithms(Collective c, bool in_place) {
  // Open MPI picks its algorithm itself (coll/tuned decision rules).
  if (c == Collective::broadcast && !in_place) return {};  // MPI_Bcast is in place only
  return {"default"};
}

Prepared MpiBackend::prepare(const OpSpec& s) {
  WEFT_REQUIRE(s.count <= static_cast<std::size_t>(INT_MAX), "mpi: count ", s.count,
               " exceeds MPI's int counts");
  const int count = static_cast<int>(s.count);
  const MPI_Datatype type = mpi_type(s.dtype);
  const MPI_Op op = mpi_op(s.op);
  void* send = s.in_place ? MPI_IN_PLACE : s.send;
  void* recv = s.recv;
  const int root = s.root;
  Prepared p;
  p.result = recv;
  switch (s.collective) {
    case Collective::allreduce:
      p.op = std::make_unique<FnOp>([=] {
        check(MPI_Allreduce(send, recv, count, type, op, MPI_COMM_WORLD), "MPI_Allreduce");
      });
      break;
    case Collective::allgather:
      p.op = std::make_unique<FnOp>([=] {
        check(MPI_Allgather(send, count, type, recv, count, type, MPI_COMM_WORLD),
              "MPI_Allgather");
      });
      break;
    case Collective::reduce_scatter:
      // In place, MPI takes the input from recv and leaves the slice at recv + 0.
      p.op = std::make_unique<FnOp>([=] {
        check(MPI_Reduce_scatter_block(send, recv, count, type, op, MPI_COMM_WORLD),
              "MPI_Reduce_scatter_block");
      });
      break;
    case Collective::broadcast:
      p.op = std::make_unique<FnOp>([=] {
        check(MPI_Bcast(recv, count, type, root, MPI_COMM_WORLD), "MPI_Bcast");
      });
      break;
  }
  return p;
}

std::string MpiBackend::describe() const {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  std::string v(version, len);
  if (auto nl = v.find_first_of("\r\n,"); nl != std::string::npos) v.resize(nl);
  return v + (malloc_note.empty() ? "" : "; " + malloc_note);
}

}  // namespace weft::perf
