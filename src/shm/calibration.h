// Whether the single copy (cross-memory attach, shm/cma.h) beats the two
// copies through the shared segment on this machine, measured at the
// group's join instead of assumed.
//
// The answer differs between machines: on the 2-core EPYC VM the kernel's
// copy out of a peer's memory takes ~2.4x as long as a memcpy of the same
// bytes out of the peer's segment slot, and the two copies won every
// collective at every size (1.1-2.2x); on a 16-core Xeon host it takes
// 1.2-1.9x, and the single copy won on 2 ranks but lost on 8
// (bench/results/cpu.md, "single copy or two copies"). The rule that fits
// both: the single copy moves (n-1)/n of each rank's bytes with the kernel's
// copy where the segment's path moves them with memcpy, so it is worth it
// while one kernel copy costs less than n/(n-1) memcpys, less an eighth for
// what that leaves out (calibration.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace weft::shm {

// Bytes each member copies to time both ways (at most its slot half).
inline constexpr size_t kCalibrationBytes = size_t{1} << 20;

struct CopyTimes {
  uint32_t cma_ns = 0;   // process_vm_readv of the peer's buffer
  uint32_t copy_ns = 0;  // memcpy out of the peer's segment slot
};

// What a member copies from and into. Every member fills its own `slot` and
// `buffer` before each round, as a peer's collective would have just
// written its data; `sync` is a barrier of all members.
struct CalibrationSide {
  char* slot;                  // this member's slot (kCalibrationBytes or bytes)
  char* buffer;                // this member's own buffer, read by its predecessor
  char* scratch;               // where this member copies to
  const char* peer_slot;       // its successor's slot
  int64_t peer_pid;            // its successor
  uint64_t peer_buffer;        // and its buffer, in the successor's memory
  size_t bytes;
};

// Ten rounds, every member copying at the same time; the best time of
// each copy. 0 ns where the kernel copy failed (the
// probe had already succeeded: a member that died since is found by the
// join's next wait).
CopyTimes time_copies(const CalibrationSide& side, const std::function<void()>& sync);

// The group's decision from every member's times (`ranks[q]`: member q's
// rank): on when the slowest member's ratio cma_ns / copy_ns is below
// 0.875 n / (n - 1). `why` gets the figures for the log.
bool single_copy_pays(const CopyTimes* times, const int* ranks, int n, size_t bytes, std::string& why);

}  // namespace weft::shm
