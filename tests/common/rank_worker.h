// The main() of a RankGroup worker (rank_group.h) that runs one mode on a
// host communicator built from the launcher environment: parses the mode,
// inits, runs `run(comm, argc, argv)`, and turns a weft::Error into the
// RESULT line of its code (exit 0: the test judges the code) and anything
// else into "exception" (exit 1). Also the modes several workers share.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "rank_report.h"
#include "weft/communicator.h"
#include "weft/error.h"

namespace weft::test {

template <typename Run>
int worker_main(const char* name, int argc, char** argv, Run run) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODE [ARGS]\n", name);
    return 2;
  }
  const int rank = std::getenv("RANK") ? std::atoi(std::getenv("RANK")) : -1;
  try {
    Communicator comm = Communicator::init_from_env();
    return run(comm, argc, argv);
  } catch (const Error& e) {
    return report(rank, to_string(e.code()), e.message(), true);
  } catch (const std::exception& e) {
    return report(rank, "exception", e.what(), false);
  }
}

// Mode "stall RANK": RANK never joins; the others' allreduce must time out
// after its 1 s per-operation timeout (the Error reaches worker_main).
inline int stall_mode(Communicator& comm, int stalled) {
  using namespace std::chrono_literals;
  std::vector<float> buf(1 << 16, 1.0f);
  if (comm.rank() == stalled) {
    std::this_thread::sleep_for(3s);
    return report(comm.rank(), "OK", "stalled", true);
  }
  OpOptions o;
  o.timeout = 1s;
  comm.allreduce(buf.data(), buf.data(), buf.size(), DataType::f32, ReduceOp::sum, o).wait();
  return report(comm.rank(), "OK", "no error", false);
}

}  // namespace weft::test
