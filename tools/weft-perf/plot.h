// `--plot FILE.png`: bus bandwidth against message size, log-log, one line
// per library, drawn by gnuplot (Debian gnuplot-nox, pngcairo terminal).
//
// Why gnuplot: it is one Debian package, already the tool people reach for
// with nccl-tests output, needs no Python and no linking; weft writes the
// data and a script into a temporary directory and runs it. The script is
// kept next to the PNG (FILE.png.gp, with its data inline) so a user can
// restyle the plot without rerunning the benchmark.
#pragma once

#include <string>
#include <vector>

#include "result.h"

namespace weft::perf {

struct PlotOptions {
  std::string title;       // empty: "<collective>, <n> ranks, <dtype> <op>"
  bool in_place = false;   // which rows; a library without them uses the other placement
  bool keep_script = true; // write FILE.png.gp next to the PNG
  std::string gnuplot = "gnuplot";
};

// Throws Unsupported when gnuplot is missing:
//   plot: gnuplot not found in PATH (install gnuplot-nox: scripts/setup.sh)
void require_gnuplot(const std::string& gnuplot = "gnuplot");

// Throws Unsupported when gnuplot is missing, SystemError when it fails.
void write_plot(const std::string& png_path, const std::vector<Result>& results,
                const PlotOptions& options = {});

// True when `path` starts with the 8-byte PNG signature.
bool is_png_file(const std::string& path);

}  // namespace weft::perf
