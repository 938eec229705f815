// Several libraries' results for one collective, side by side:
//
//   # allreduce, f32 sum, 2 ranks, out-of-place (* = in-place row: the library has no other)
//   #       size      weft time  weft busbw  gloo time  gloo busbw ...  weft/gloo  weft/mpi
//   #        (B)           (us)      (GB/s)       (us)      (GB/s)          busbw     busbw
//
// The reference library is "weft" when present, else the first result; the
// ratio columns are reference busbw / other busbw (> 1: the reference is faster).
// With a bound (Bounds::single > 0, see machine_limits.h) each library also
// gets a "<lib>/bound" column: its algbw as a fraction of the bound's; with
// the bound at the rate of n cores copying at once (Bounds::shared > 0), a
// "<lib>/shared" column too.
#pragma once

#include <ostream>
#include <vector>

#include "result.h"

namespace weft::perf {

// Throws InvalidArgument when the results are of different collectives or
// world sizes (a ratio between them would mean nothing).
struct Bounds {
  double single = 0;  // algbw GB/s at the single-core memcpy rate
  double shared = 0;  // algbw GB/s at one core's share when every rank copies at once
};
void print_side_by_side(std::ostream& out, const std::vector<Result>& results,
                        bool in_place = false, Bounds bounds = {});

}  // namespace weft::perf
