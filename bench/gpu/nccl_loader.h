// NCCL as a comparator, loaded with dlopen so that weft neither links nor
// requires it: the benchmark finds libnccl.so.2 through --nccl-lib, the
// loader's search path, or PyTorch's bundled copy.
#pragma once

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace weft::bench {

struct NcclUniqueId {
  char internal[128];
};
using NcclComm = void*;

// The subset of nccl.h this benchmark uses (values as in NCCL 2.x).
enum NcclDataType { kNcclFloat32 = 7, kNcclBfloat16 = 9 };
enum NcclRedOp { kNcclSum = 0 };

struct Nccl {
  void* lib = nullptr;
  int (*GetVersion)(int*) = nullptr;
  int (*GetUniqueId)(NcclUniqueId*) = nullptr;
  int (*CommInitRank)(NcclComm*, int, NcclUniqueId, int) = nullptr;
  int (*AllReduce)(const void*, void*, size_t, int, int, NcclComm, cudaStream_t) = nullptr;
  int (*CommDestroy)(NcclComm) = nullptr;
  const char* (*GetErrorString)(int) = nullptr;

  explicit Nccl(const std::string& path) {
    const std::string candidates[] = {path, "libnccl.so.2", "libnccl.so"};
    for (const auto& c : candidates) {
      if (c.empty()) continue;
      if ((lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL))) break;
    }
    if (!lib) throw std::runtime_error("cannot load NCCL (pass --nccl-lib PATH)");
    load(GetVersion, "ncclGetVersion");
    load(GetUniqueId, "ncclGetUniqueId");
    load(CommInitRank, "ncclCommInitRank");
    load(AllReduce, "ncclAllReduce");
    load(CommDestroy, "ncclCommDestroy");
    load(GetErrorString, "ncclGetErrorString");
  }
  template <typename F>
  void load(F& fn, const char* name) {
    fn = reinterpret_cast<F>(dlsym(lib, name));
    if (!fn) throw std::runtime_error(std::string("NCCL lacks ") + name);
  }
  void check(int rc, const char* what) const {
    if (rc != 0) throw std::runtime_error(std::string(what) + ": " + GetErrorString(rc));
  }
};

}  // namespace weft::bench
