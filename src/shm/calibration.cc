#include "shm/calibration.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "shm/cma.h"
#include "weft/error.h"

namespace weft::shm {
namespace {

constexpr int kRounds = 10;
// The share of n/(n-1) below which the single copy pays: what the model
// leaves out (a system call and the pinning of every page per read, the
// reduction's extra pass over what was read) costs it something. Fitted on
// the two machines measured, with margin to both: the VM's ratio at init ran
// 2.01-3.08 on 2 ranks (12 joins), where the two copies won; the Xeon host's
// 1.25-1.55 (2, 4 and 8 ranks, 24 joins), where the single copy won on 2
// ranks and lost on 4 and 8.
constexpr double kModelShare = 0.875;

uint32_t ns_since(std::chrono::steady_clock::time_point t0) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
  return static_cast<uint32_t>(std::clamp<int64_t>(ns, 1, UINT32_MAX));
}

}  // namespace

CopyTimes time_copies(const CalibrationSide& side, const std::function<void()>& sync) {
  CopyTimes rounds[kRounds];
  for (CopyTimes& t : rounds) {
    // Fresh data in this member's cache, as a collective's peer leaves it.
    std::memset(side.slot, static_cast<int>(&t - rounds) + 1, side.bytes);
    std::memset(side.buffer, static_cast<int>(&t - rounds) + 1, side.bytes);
    sync();
    auto t0 = std::chrono::steady_clock::now();
    std::memcpy(side.scratch, side.peer_slot, side.bytes);
    t.copy_ns = ns_since(t0);
    sync();
    t0 = std::chrono::steady_clock::now();
    const int err = cma::read(side.peer_pid, side.scratch, side.peer_buffer, side.bytes);
    t.cma_ns = err ? 0 : ns_since(t0);
    // Every round to the end even after a failure: the others wait for this
    // member's steps.
    sync();
  }
  // The best time of each: what the copy costs when nothing else slows it.
  // (Fewer rounds, or the round of the median ratio, let the VM's ratio
  // range 1.4-3.2 between joins, across the Xeon host's.) A failed kernel
  // copy in any round makes it 0.
  CopyTimes best{UINT32_MAX, UINT32_MAX};
  for (const CopyTimes& t : rounds) {
    best.cma_ns = std::min(best.cma_ns, t.cma_ns);
    best.copy_ns = std::min(best.copy_ns, t.copy_ns);
  }
  return best;
}

bool single_copy_pays(const CopyTimes* times, const int* ranks, int n, size_t bytes, std::string& why) {
  double worst = 0;
  int who = 0;
  for (int q = 0; q < n; ++q) {
    if (times[q].cma_ns == 0 || times[q].copy_ns == 0) {
      why = str("rank ", ranks[q], "'s timed kernel copy failed");
      return false;
    }
    const double ratio = static_cast<double>(times[q].cma_ns) / times[q].copy_ns;
    if (ratio > worst) worst = ratio, who = q;
  }
  const double limit = kModelShare * n / (n - 1);
  char figures[160];
  std::snprintf(figures, sizeof figures,
                "a kernel copy from a peer took %.2fx a copy through the segment (rank %d: "
                "%.0f vs %.0f us for %zu KiB), %s 0.875 n/(n-1) = %.2f",
                worst, ranks[who], times[who].cma_ns / 1e3, times[who].copy_ns / 1e3, bytes / 1024,
                worst < limit ? "below" : "not below", limit);
  why = figures;
  return worst < limit;
}

}  // namespace weft::shm
