// NCCL loaded with dlopen, so that weft neither links nor requires it: the
// library comes from --nccl-lib PATH, else $NCCL_LIB, else the loader's
// libnccl.so.2 (the CUDA toolkit's or PyTorch's copy, e.g.
// .../site-packages/nvidia/nccl/lib/libnccl.so.2). Only the subset of nccl.h
// weft-perf calls is declared here, with NCCL 2.x's ABI values; streams are
// passed as void* (a cudaStream_t) so this file needs no CUDA header.
#pragma once

#include <string>

#include "weft/dtype.h"

namespace weft::perf {

struct NcclUniqueId {
  char internal[128];  // NCCL_UNIQUE_ID_BYTES
};
using NcclComm = void*;

class NcclApi {
 public:
  // Loads `path` (empty: $NCCL_LIB, else libnccl.so.2) and every symbol
  // below. Throws Unsupported, exactly:
  //   nccl: cannot load <path> (pass --nccl-lib PATH or set NCCL_LIB)
  //   nccl: <path> has no ncclAllReduce (not an NCCL 2.x library)
  explicit NcclApi(const std::string& path);
  ~NcclApi();
  NcclApi(const NcclApi&) = delete;
  NcclApi& operator=(const NcclApi&) = delete;

  const std::string& path() const { return path_; }
  // "2.28.9"
  std::string version() const;
  // Throws CudaError "nccl: <what> failed: <NCCL's error string>" unless rc is 0.
  void check(int rc, const char* what) const;

  static int dtype(DataType t);  // ncclDataType_t
  static int op(ReduceOp o);     // ncclRedOp_t

  int (*GetVersion)(int*) = nullptr;
  int (*GetUniqueId)(NcclUniqueId*) = nullptr;
  int (*CommInitRank)(NcclComm*, int, NcclUniqueId, int) = nullptr;
  int (*CommDestroy)(NcclComm) = nullptr;
  const char* (*GetErrorString)(int) = nullptr;
  int (*AllReduce)(const void*, void*, size_t, int, int, NcclComm, void*) = nullptr;
  int (*AllGather)(const void*, void*, size_t, int, NcclComm, void*) = nullptr;
  int (*ReduceScatter)(const void*, void*, size_t, int, int, NcclComm, void*) = nullptr;
  int (*Broadcast)(const void*, void*, size_t, int, int, NcclComm, void*) = nullptr;
  int (*Reduce)(const void*, void*, size_t, int, int, int, NcclComm, void*) = nullptr;
  int (*Send)(const void*, size_t, int, int, NcclComm, void*) = nullptr;
  int (*Recv)(void*, size_t, int, int, NcclComm, void*) = nullptr;
  int (*GroupStart)() = nullptr;
  int (*GroupEnd)() = nullptr;

 private:
  template <typename F>
  void load(F& fn, const char* name);

  std::string path_;
  void* lib_ = nullptr;
};

}  // namespace weft::perf
