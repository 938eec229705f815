#include "core/cpu_isa.h"

#include <atomic>
#include <string>

#include "weft/env.h"
#include "weft/error.h"
#include "weft/log.h"

namespace weft {

const char* to_string(CpuIsa isa) noexcept {
  switch (isa) {
    case CpuIsa::portable: return "portable";
    case CpuIsa::avx2: return "avx2";
    case CpuIsa::avx512: return "avx512";
  }
  return "?";
}

namespace detail {
namespace {

bool cpu_supports(CpuIsa isa) {
#if WEFT_X86_KERNELS
  switch (isa) {
    case CpuIsa::portable: return true;
    case CpuIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
    case CpuIsa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("f16c");
  }
  return false;
#else
  return isa == CpuIsa::portable;
#endif
}

const KernelTable& kernels_for(CpuIsa isa) {
#if WEFT_X86_KERNELS
  if (isa == CpuIsa::avx512) return avx512_kernels();
  if (isa == CpuIsa::avx2) return avx2_kernels();
#endif
  return portable_kernels();
}

// WEFT_CPU_ISA lowers the level (it can never raise it beyond the CPU).
const KernelTable* choose_at_startup() {
  std::vector<CpuIsa> supported = supported_cpu_isas();
  CpuIsa best = supported.back();
  std::string wanted = env::get("WEFT_CPU_ISA");
  CpuIsa chosen = best;
  if (wanted != "auto") {
    bool known = false;
    for (CpuIsa isa : {CpuIsa::portable, CpuIsa::avx2, CpuIsa::avx512}) {
      if (wanted != to_string(isa)) continue;
      known = true;
      if (cpu_supports(isa)) {
        chosen = isa;
      } else {
        WEFT_WARN("core", "WEFT_CPU_ISA=", wanted, " is not supported by this CPU or build; using ",
                  to_string(best));
      }
    }
    if (!known)
      throw_error(ErrorCode::InvalidArgument,
                  str("WEFT_CPU_ISA=", wanted, " is not one of auto, portable, avx2, avx512"));
  }
  WEFT_INFO("core", "reduction kernels: ", to_string(chosen), " (best supported: ",
            to_string(best), ")");
  return &kernels_for(chosen);
}

std::atomic<const KernelTable*> g_override{nullptr};

}  // namespace

std::vector<CpuIsa> supported_cpu_isas() {
  std::vector<CpuIsa> result;
  for (CpuIsa isa : {CpuIsa::portable, CpuIsa::avx2, CpuIsa::avx512})
    if (cpu_supports(isa)) result.push_back(isa);
  return result;
}

const KernelTable& active_kernels() {
  if (const KernelTable* forced = g_override.load(std::memory_order_acquire)) return *forced;
  static const KernelTable* const chosen = choose_at_startup();
  return *chosen;
}

void set_cpu_isa_for_testing(CpuIsa isa) {
  if (!cpu_supports(isa))
    throw_error(ErrorCode::Unsupported,
                str("reduction kernels for ", to_string(isa), " cannot run on this CPU/build"));
  g_override.store(&kernels_for(isa), std::memory_order_release);
}

}  // namespace detail

CpuIsa reduce_cpu_isa() { return detail::active_kernels().isa; }

}  // namespace weft
