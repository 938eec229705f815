// The GPU runners of a build without CUDA: every entry point says so.
#include "runners/gpu_runners.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

[[noreturn]] void no_cuda(const char* who) {
  throw_error(ErrorCode::Unsupported,
              str(who, ": this weft-perf was built without CUDA (configure with WEFT_CUDA=ON)"));
}

}  // namespace

std::unique_ptr<Runner> make_weft_gpu_runner(bool, bool) { no_cuda("-g"); }
std::unique_ptr<Runner> make_nccl_runner(const std::string&, bool) { no_cuda("nccl"); }
void nccl_preflight(const std::string&) { no_cuda("nccl"); }
void gpu_preflight(int) { no_cuda("-g"); }

}  // namespace weft::perf
