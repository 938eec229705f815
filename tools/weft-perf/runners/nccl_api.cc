#include "runners/nccl_api.h"

#include <dlfcn.h>

#include <cstdlib>

#include "weft/error.h"

namespace weft::perf {

NcclApi::NcclApi(const std::string& path) : path_(path) {
  if (path_.empty()) {
    const char* env = std::getenv("NCCL_LIB");
    path_ = env != nullptr && *env != '\0' ? env : "libnccl.so.2";
  }
  lib_ = ::dlopen(path_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib_ == nullptr) {
    throw_error(ErrorCode::Unsupported,
                str("nccl: cannot load ", path_, " (pass --nccl-lib PATH or set NCCL_LIB)"));
  }
  try {
    load(GetVersion, "ncclGetVersion");
    load(GetUniqueId, "ncclGetUniqueId");
    load(CommInitRank, "ncclCommInitRank");
    load(CommDestroy, "ncclCommDestroy");
    load(GetErrorString, "ncclGetErrorString");
    load(AllReduce, "ncclAllReduce");
    load(AllGather, "ncclAllGather");
    load(ReduceScatter, "ncclReduceScatter");
    load(Broadcast, "ncclBroadcast");
    load(Reduce, "ncclReduce");
    load(Send, "ncclSend");
    load(Recv, "ncclRecv");
    load(GroupStart, "ncclGroupStart");
    load(GroupEnd, "ncclGroupEnd");
  } catch (...) {
    ::dlclose(lib_);
    throw;
  }
}

NcclApi::~NcclApi() {
  if (lib_ != nullptr) ::dlclose(lib_);
}

template <typename F>
void NcclApi::load(F& fn, const char* name) {
  fn = reinterpret_cast<F>(::dlsym(lib_, name));
  if (fn == nullptr) {
    throw_error(ErrorCode::Unsupported,
                str("nccl: ", path_, " has no ", name, " (not an NCCL 2.x library)"));
  }
}

std::string NcclApi::version() const {
  int v = 0;
  check(GetVersion(&v), "ncclGetVersion");
  return str(v / 10000, ".", v / 100 % 100, ".", v % 100);
}

void NcclApi::check(int rc, const char* what) const {
  if (rc != 0) throw_error(ErrorCode::CudaError, str("nccl: ", what, " failed: ", GetErrorString(rc)));
}

int NcclApi::dtype(DataType t) {
  switch (t) {
    case DataType::i8: return 0;
    case DataType::u8: return 1;
    case DataType::i32: return 2;
    case DataType::u32: return 3;
    case DataType::i64: return 4;
    case DataType::u64: return 5;
    case DataType::f16: return 6;
    case DataType::f32: return 7;
    case DataType::f64: return 8;
    case DataType::bf16: return 9;
  }
  return -1;
}

int NcclApi::op(ReduceOp o) {
  switch (o) {
    case ReduceOp::sum: return 0;
    case ReduceOp::prod: return 1;
    case ReduceOp::max: return 2;
    case ReduceOp::min: return 3;
    case ReduceOp::avg: return 4;
  }
  return -1;
}

}  // namespace weft::perf
