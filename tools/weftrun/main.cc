// weftrun: the torchrun-compatible launcher. See docs/weftrun.md.
//
//   weftrun --nproc-per-node 4 train.py --epochs 3
//   weftrun --nnodes 3 --nproc-per-node gpu --rdzv-backend c10d
//           --rdzv-endpoint node0:29400 --rdzv-id job42 -- ./my_program
#include <cstdio>

#include "agent.h"
#include "options.h"
#include "weft/env.h"
#include "weft/error.h"

int main(int argc, char** argv) {
  weft::env::warn_unknown_once();
  weftrun::ParseResult parsed = weftrun::parse_command_line(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  try {
    return weftrun::run_agent(*parsed.options);
  } catch (const weft::Error& e) {
    std::fprintf(stderr, "weftrun: %s\n", e.message().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weftrun: %s\n", e.what());
    return 1;
  }
}
