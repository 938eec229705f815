// One weft-perf measurement: a collective at one size, out of place and in
// place, timed over `iters` iterations after `warmup`, optionally checked.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "weft/communicator.h"

namespace weft::perf {

struct Settings {
  std::string collective = "allreduce";
  size_t min_bytes = 8, max_bytes = 64 << 20;
  double factor = 2;
  DataType type = DataType::f32;
  ReduceOp op = ReduceOp::sum;
  int root = 0;
  int iters = 20, warmup = 5;
  bool check = true;
};

struct Timing {
  double time_us = 0, algbw = 0, busbw = 0;
  long long wrong = -1;  // -1: not checked
};

struct Row {
  size_t bytes = 0, count = 0;
  Timing out_of_place, in_place;
};

bool known_collective(const std::string& name);
// nccl-tests' bus bandwidth factor: busbw = algbw * factor.
double bus_factor(const std::string& collective, int world);

// Collective over `comm`: every rank measures; the result (max time over
// ranks, total wrong elements) is the same on every rank.
Row measure(Communicator& comm, const Settings& s, size_t bytes);

}  // namespace weft::perf
