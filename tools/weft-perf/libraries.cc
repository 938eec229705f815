#include "libraries.h"

#include <algorithm>

#include "weft/error.h"

namespace weft::perf {
namespace {

using C = Collective;
using T = DataType;
using O = ReduceOp;

const std::vector<LibraryInfo>& all() {
  static const std::vector<LibraryInfo> libs = {
      {"weft",
       {std::begin(kAllCollectives), std::end(kAllCollectives)},
       {std::begin(kAllDataTypes), std::end(kAllDataTypes)},
       {std::begin(kAllReduceOps), std::end(kAllReduceOps)}},
      // Gloo's templates are instantiated for these four types here (runners/typed.h).
      {"gloo",
       {C::allreduce, C::allgather, C::reduce_scatter, C::broadcast, C::reduce, C::alltoall},
       {T::f32, T::f64, T::i32, T::i64},
       {O::sum, O::prod, O::min, O::max}},
      {"mpi",
       {std::begin(kAllCollectives), std::end(kAllCollectives)},
       {T::f32, T::f64, T::i8, T::u8, T::i32, T::u32, T::i64, T::u64},
       {O::sum, O::prod, O::min, O::max}},
      {"nccl",
       {C::allreduce, C::allgather, C::reduce_scatter, C::broadcast, C::reduce, C::alltoall,
        C::sendrecv},
       {std::begin(kAllDataTypes), std::end(kAllDataTypes)},
       {std::begin(kAllReduceOps), std::end(kAllReduceOps)}},
  };
  return libs;
}

template <typename V, typename F>
std::string names(const V& values, F&& name) {
  std::string s;
  for (const auto& v : values) s += (s.empty() ? "" : " ") + std::string(name(v));
  return s;
}

template <typename V, typename X>
bool contains(const V& values, X x) {
  return std::find(std::begin(values), std::end(values), x) != std::end(values);
}

}  // namespace

const std::vector<std::string>& comparator_names() {
  static const std::vector<std::string> n = {"gloo", "mpi", "nccl"};
  return n;
}

const LibraryInfo& library_info(const std::string& name) {
  for (const auto& lib : all()) {
    if (lib.name == name) return lib;
  }
  std::string known;
  for (const auto& n : comparator_names()) known += (known.empty() ? "" : ", ") + n;
  throw_error(ErrorCode::InvalidArgument,
              str("unknown comparator \"", name, "\" (known: ", known, ")"));
}

void require_supported(const LibraryInfo& lib, Collective c, DataType t, ReduceOp op) {
  auto coll_name = [](Collective x) { return to_string(x); };
  auto type_name = [](DataType x) { return weft::to_string(x); };
  auto op_name = [](ReduceOp x) { return weft::to_string(x); };
  if (!contains(lib.collectives, c)) {
    throw_error(ErrorCode::Unsupported, str(lib.name, " cannot run ", to_string(c), " (it runs ",
                                            names(lib.collectives, coll_name), ")"));
  }
  if (!contains(lib.dtypes, t)) {
    throw_error(ErrorCode::Unsupported, str(lib.name, " cannot run ", weft::to_string(t),
                                            " (it runs ", names(lib.dtypes, type_name), ")"));
  }
  if (is_reduction(c) && !contains(lib.ops, op)) {
    throw_error(ErrorCode::Unsupported, str(lib.name, " cannot reduce with ", weft::to_string(op),
                                            " (it has ", names(lib.ops, op_name), ")"));
  }
}

}  // namespace weft::perf
