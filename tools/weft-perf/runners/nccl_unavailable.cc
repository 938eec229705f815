// The NCCL runner of a build without CUDA: every entry point says so.
#include "runners/nccl_runner.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

[[noreturn]] void no_cuda() {
  throw_error(ErrorCode::Unsupported,
              "nccl: this weft-perf was built without CUDA (configure with WEFT_CUDA=ON)");
}

}  // namespace

std::unique_ptr<Runner> make_nccl_runner(const std::string&, bool) { no_cuda(); }
void nccl_preflight(const std::string&, int) { no_cuda(); }

}  // namespace weft::perf
