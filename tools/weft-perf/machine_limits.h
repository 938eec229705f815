// `--limits`: what this machine allows, so each collective result can be read
// as a fraction of a physical limit.
//
// Memory (one core): memcpy and a += b (f32) over buffers far beyond the
// caches (256 MiB each by default), pre-faulted, median of several runs.
// Convention, stated because sources differ: "traffic" counts every byte read
// plus every byte written by the program (memcpy of N bytes: 2N; a += b over
// N bytes of a: 3N); "payload" counts N. Write-allocate reads the hardware
// may add are not counted (glibc's memcpy uses non-temporal stores at these
// sizes, which avoid them; a += b reads its destination anyway).
//
// Memory (n cores at once): n threads, each with its own buffers (128 MiB
// each by default, first touched by that thread), run memcpy together; the
// figure is one thread's share, n x bytes over the wall time of the slowest,
// divided by n. The single-core rate overstates what each of n ranks gets
// when the ranks share one memory system; this is the rate they share.
//
// TCP: one sender process and one receiver process over loopback, one
// stream, default socket buffers, 1 GiB per run, median of several runs:
// the "TCP limit" for one connection on this host.
//
// The "cpu" column (CPU time of the measuring thread over wall time) tells a
// busy machine from a slow one.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "result.h"

namespace weft::perf {

struct LimitFigure {
  std::string name;        // "memcpy", "a+=b f32", "tcp loopback"
  std::size_t bytes = 0;   // buffer or transfer size
  int runs = 0;
  double seconds = 0;      // median time of one run
  double payload_gbs = 0;  // bytes / seconds
  double traffic_gbs = 0;  // (bytes read + bytes written) / seconds; for TCP = payload
  // CPU time of the measuring thread / wall time: below ~95 % the figure is
  // limited by other processes on a shared machine, not by the hardware.
  double cpu_share = 0;
  std::string note;
};

std::vector<LimitFigure> measure_memory_bandwidth(std::size_t bytes = std::size_t(256) << 20,
                                                  int runs = 5);
LimitFigure measure_concurrent_memcpy(int threads, std::size_t bytes = std::size_t(128) << 20,
                                      int runs = 5);
LimitFigure measure_tcp_loopback(std::size_t bytes = std::size_t(1) << 30, int runs = 3);

// All of the above, the concurrent memcpy with `ranks` threads (left out for
// one rank). Found again by name: kMemcpy, kMemcpyShared.
std::vector<LimitFigure> measure_limits(int ranks);
inline constexpr const char* kMemcpy = "memcpy";
inline constexpr const char* kMemcpyShared = "memcpy shared";
// The figure of that name, or nullptr.
const LimitFigure* find_figure(const std::vector<LimitFigure>& figures, const std::string& name);

// The memory-bandwidth bound of a collective on one host (README.md, "the
// bound"): the fewest bytes one rank must read plus write, per byte of
// nccl-tests' size, when ranks read each other's buffers directly:
//   allreduce, reduce  (3n-1)/n   reduce its 1/n slice from n inputs (reads 1,
//                                 writes 1/n), read the other n-1 reduced
//                                 slices and write them ((n-1)/n each way)
//   reduce_scatter     (n+1)/n    read n slices of 1/n, write 1/n
//   allgather, broadcast, alltoall, sendrecv   2    read every output byte
//                                 from where it is, write it once
double min_traffic_per_byte(Collective c, int nranks);
// The algbw (GB/s) a rank reaches when it moves that traffic at
// `copy_traffic_gbs` (read + write GB/s of the single-core memcpy).
double bound_algbw_gbs(Collective c, int nranks, double copy_traffic_gbs);

void print_limits(std::ostream& out, const std::vector<LimitFigure>& figures);

}  // namespace weft::perf
