#include "runners/mpi_runner.h"

#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstdint>
#include <functional>

#include "weft/error.h"

namespace weft::perf {
namespace {

MPI_Datatype mpi_type(DataType t) {
  switch (t) {
    case DataType::f32: return MPI_FLOAT;
    case DataType::f64: return MPI_DOUBLE;
    case DataType::i8: return MPI_INT8_T;
    case DataType::u8: return MPI_UINT8_T;
    case DataType::i32: return MPI_INT32_T;
    case DataType::u32: return MPI_UINT32_T;
    case DataType::i64: return MPI_INT64_T;
    case DataType::u64: return MPI_UINT64_T;
    default: break;
  }
  throw_error(ErrorCode::Unsupported, str("mpi: no datatype for ", to_string(t)));
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::min: return MPI_MIN;
    case ReduceOp::max: return MPI_MAX;
    case ReduceOp::prod: return MPI_PROD;
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

MpiRunner::MpiRunner() {
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks_);
}

void MpiRunner::barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

double MpiRunner::sum_all(double value) {
  double out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  return out;
}

std::vector<std::string> MpiRunner::algorithms(Collective c, bool in_place) {
  // Open MPI picks its algorithm itself (coll/tuned decision rules).
  if (c == Collective::broadcast && !in_place) return {};  // MPI_Bcast is in place only
  if (c == Collective::sendrecv && in_place) return {};
  return {"default"};
}

Prepared MpiRunner::prepare(const OpSpec& s) {
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
      p.op = std::make_unique<FunctionOp>([=] {
        check(MPI_Allreduce(send, recv, count, type, op, MPI_COMM_WORLD), "MPI_Allreduce");
      });
      break;
    case Collective::allgather:
      p.op = std::make_unique<FunctionOp>([=] {
        check(MPI_Allgather(send, count, type, recv, count, type, MPI_COMM_WORLD),
              "MPI_Allgather");
      });
      break;
    case Collective::reduce_scatter:
      // In place, MPI takes the input from recv and leaves the slice at recv + 0.
      p.op = std::make_unique<FunctionOp>([=] {
        check(MPI_Reduce_scatter_block(send, recv, count, type, op, MPI_COMM_WORLD),
              "MPI_Reduce_scatter_block");
      });
      break;
    case Collective::broadcast:
      p.op = std::make_unique<FunctionOp>([=] {
        check(MPI_Bcast(recv, count, type, root, MPI_COMM_WORLD), "MPI_Bcast");
      });
      break;
    case Collective::reduce: {
      // MPI_IN_PLACE is for the root only; elsewhere the input is recv itself.
      const bool is_root = rank_ == root;
      void* in = s.in_place ? (is_root ? MPI_IN_PLACE : recv) : s.send;
      p.op = std::make_unique<FunctionOp>([=] {
        check(MPI_Reduce(in, recv, count, type, op, root, MPI_COMM_WORLD), "MPI_Reduce");
      });
      break;
    }
    case Collective::alltoall:
      p.op = std::make_unique<FunctionOp>([=] {
        check(MPI_Alltoall(send, count, type, recv, count, type, MPI_COMM_WORLD),
              "MPI_Alltoall");
      });
      break;
    case Collective::sendrecv: {
      const int next = (rank_ + 1) % nranks_, prev = (rank_ - 1 + nranks_) % nranks_;
      void* in = s.send;
      p.op = std::make_unique<FunctionOp>([=] {
        check(MPI_Sendrecv(in, count, type, next, 0, recv, count, type, prev, 0, MPI_COMM_WORLD,
                           MPI_STATUS_IGNORE),
              "MPI_Sendrecv");
      });
      break;
    }
  }
  return p;
}

std::string MpiRunner::describe() const {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  std::string v(version, len);
  if (auto nl = v.find_first_of("\r\n,"); nl != std::string::npos) v.resize(nl);
  return v + (malloc_note.empty() ? "" : "; " + malloc_note);
}

}  // namespace weft::perf
