// Reduction kernel bandwidth against memcpy, per level, dtype, op and size.
//
// GBps counts every byte a kernel touches in memory: reduce_inplace reads two
// arrays and writes one (3 x size), reduce_many with n inputs reads n and
// writes one, memcpy reads one and writes one (2 x size). A kernel "at memory
// speed" has the same GBps as memcpy at a size that does not fit in cache;
// `ratio` is that quotient, with memcpy timed in the same iterations.
//
//   build/bin/reduce_bench --benchmark_min_time=0.2 [--benchmark_filter=avx2/f32]
//   python3 bench/reduce_report.py out.json > bench/results/reduce.md  (with --benchmark_out)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "core/cpu_isa.h"
#include "weft/reduce.h"

namespace {

using weft::CpuIsa;
using weft::DataType;
using weft::ReduceOp;

constexpr size_t kSizes[] = {64 << 10, 1 << 20, 64 << 20};

std::string size_name(size_t bytes) {
  return bytes >= (1 << 20) ? std::to_string(bytes >> 20) + "MiB"
                            : std::to_string(bytes >> 10) + "KiB";
}

// Buffers faulted in before timing (fresh pages cost ~10 us each on these VMs),
// filled with small values so float sums and products stay finite.
std::vector<std::vector<unsigned char>> make_buffers(int count, size_t bytes) {
  std::vector<std::vector<unsigned char>> buffers(count, std::vector<unsigned char>(bytes, 0x3c));
  return buffers;
}

// Each iteration times one memcpy of `bytes` (the comparator, measured in the
// same iteration and so under the same machine load) and then the kernel; the
// benchmark's own time is the kernel's (manual time).
template <class Kernel>
void time_against_memcpy(benchmark::State& state, std::vector<unsigned char>& copy_dst,
                         const std::vector<unsigned char>& copy_src, size_t kernel_bytes,
                         Kernel&& kernel) {
  using Clock = std::chrono::steady_clock;
  double kernel_s = 0, copy_s = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    std::memcpy(copy_dst.data(), copy_src.data(), copy_src.size());
    benchmark::ClobberMemory();
    auto t1 = Clock::now();
    kernel();
    benchmark::ClobberMemory();
    auto t2 = Clock::now();
    copy_s += std::chrono::duration<double>(t1 - t0).count();
    kernel_s += std::chrono::duration<double>(t2 - t1).count();
    state.SetIterationTime(std::chrono::duration<double>(t2 - t1).count());
  }
  double n = static_cast<double>(state.iterations());
  double gbps = static_cast<double>(kernel_bytes) * n / kernel_s / 1e9;
  double copy_gbps = 2.0 * static_cast<double>(copy_src.size()) * n / copy_s / 1e9;
  state.counters["GBps"] = gbps;
  state.counters["memcpy_GBps"] = copy_gbps;
  state.counters["ratio"] = gbps / copy_gbps;
}

void bm_memcpy(benchmark::State& state, size_t bytes) {
  auto buffers = make_buffers(2, bytes);
  for (auto _ : state) {
    std::memcpy(buffers[0].data(), buffers[1].data(), bytes);
    benchmark::ClobberMemory();
  }
  state.counters["GBps"] = benchmark::Counter(
      2.0 * static_cast<double>(bytes) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

void bm_reduce(benchmark::State& state, CpuIsa isa, DataType type, ReduceOp op, size_t bytes) {
  weft::detail::set_cpu_isa_for_testing(isa);
  auto buffers = make_buffers(3, bytes);
  size_t count = bytes / weft::size_of(type);
  time_against_memcpy(state, buffers[2], buffers[1], 3 * bytes, [&] {
    weft::reduce_inplace(buffers[0].data(), buffers[1].data(), count, type, op);
  });
}

void bm_reduce_many(benchmark::State& state, CpuIsa isa, DataType type, int inputs, size_t bytes) {
  weft::detail::set_cpu_isa_for_testing(isa);
  auto buffers = make_buffers(inputs + 2, bytes);
  std::vector<const void*> pointers;
  for (int k = 0; k < inputs; ++k) pointers.push_back(buffers[k + 1].data());
  size_t count = bytes / weft::size_of(type);
  time_against_memcpy(state, buffers[inputs + 1], buffers[1],
                      static_cast<size_t>(inputs + 1) * bytes, [&] {
    weft::reduce_many(buffers[0].data(), pointers.data(), inputs, count, type, ReduceOp::sum);
  });
}

void register_all() {
  for (size_t bytes : kSizes)
    benchmark::RegisterBenchmark(("memcpy/" + size_name(bytes)).c_str(), bm_memcpy, bytes)
        ->UseRealTime();
  for (CpuIsa isa : weft::detail::supported_cpu_isas()) {
    std::string level = weft::to_string(isa);
    for (DataType type : weft::kAllDataTypes)
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::prod, ReduceOp::min, ReduceOp::max})
        for (size_t bytes : kSizes) {
          std::string name = "reduce/" + level + "/" + weft::to_string(type) + "/" +
                             weft::to_string(op) + "/" + size_name(bytes);
          benchmark::RegisterBenchmark(name.c_str(), bm_reduce, isa, type, op, bytes)
              ->UseManualTime();
        }
    // The shape the shared-memory reduce-scatter uses: several peers' slices at once.
    for (DataType type : {DataType::f32, DataType::bf16})
      for (int inputs : {4, 8})
        for (size_t bytes : kSizes) {
          std::string name = "reduce_many/" + level + "/" + weft::to_string(type) + "/" +
                             std::to_string(inputs) + "in/" + size_name(bytes);
          benchmark::RegisterBenchmark(name.c_str(), bm_reduce_many, isa, type, inputs, bytes)
              ->UseManualTime();
        }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::AddCustomContext("weft_best_cpu_isa",
                              weft::to_string(weft::detail::supported_cpu_isas().back()));
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
