#include "plot.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "child_process.h"
#include "weft/error.h"

namespace weft::perf {
namespace {

// A gnuplot string literal (single quotes; a quote is doubled).
std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

std::string script_for(const std::string& png, const std::vector<Result>& results,
                       const PlotOptions& o) {
  std::string title = o.title;
  if (title.empty()) {
    const Result& r = results[0];
    title = str(r.collective, ", ", r.nranks, " ranks, ", r.dtype,
                r.op == "none" ? std::string() : " " + r.op,
                o.in_place ? ", in-place" : ", out-of-place");
  }
  std::ostringstream s;
  s << "set terminal pngcairo size 1000,640 enhanced font 'sans,11'\n"
    << "set output " << quoted(png) << "\n"
    << "set title " << quoted(title) << "\n"
    << "set logscale xy 2\n"
    << "set format x '%.0b%BB'\n"
    << "set format y '%g'\n"
    << "set logscale y 10\n"
    << "set xlabel 'message size (bytes, nccl-tests convention)'\n"
    << "set ylabel 'bus bandwidth (GB/s)'\n"
    << "set grid xtics ytics mxtics mytics lc rgb '#dddddd'\n"
    << "set key top left\n";
  // Inline data blocks ($name << EOD), one per library.
  for (std::size_t i = 0; i < results.size(); ++i) {
    s << "$d" << i << " << EOD\n";
    std::vector<const Row*> rows;
    for (const auto& row : results[i].rows) {
      if (row.in_place != o.in_place) continue;
      rows.push_back(&row);
    }
    if (rows.empty()) {  // e.g. MPI broadcast: in place only
      for (const auto& row : results[i].rows) rows.push_back(&row);
    }
    for (const Row* row : rows) {
      if (row->busbw_gbs > 0) s << row->bytes << " " << row->busbw_gbs << "\n";
    }
    s << "EOD\n";
  }
  s << "plot ";
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (i > 0) s << ", \\\n     ";
    s << "$d" << i << " using 1:2 with linespoints lw 2 pt 7 title "
      << quoted(results[i].library);
  }
  s << "\n";
  return s.str();
}

}  // namespace

void require_gnuplot(const std::string& gnuplot) {
  if (find_in_path(gnuplot).empty()) {
    throw_error(ErrorCode::Unsupported,
                str("plot: ", gnuplot, " not found in PATH (install gnuplot-nox: scripts/setup.sh)"));
  }
}

void write_plot(const std::string& png_path, const std::vector<Result>& results,
                const PlotOptions& o) {
  WEFT_REQUIRE(!results.empty(), "plot: no results to draw");
  WEFT_REQUIRE(!png_path.empty(), "plot: no output file");
  require_gnuplot(o.gnuplot);
  const std::string gnuplot = find_in_path(o.gnuplot);
  const std::string script_path = png_path + ".gp";
  {
    std::ofstream f(script_path);
    if (!f.good()) throw_errno("plot: cannot write " + script_path);
    f << script_for(png_path, results, o);
  }
  const std::string err_path = png_path + ".gnuplot-err";
  std::remove(png_path.c_str());
  ChildProcess::Options po;
  po.stderr_path = err_path;
  po.stdout_path = "/dev/null";
  auto p = ChildProcess::spawn({gnuplot, script_path}, po);
  auto code = p.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  std::string err;
  {
    std::ifstream e(err_path);
    std::stringstream ss;
    ss << e.rdbuf();
    err = ss.str();
  }
  std::remove(err_path.c_str());
  if (!o.keep_script) std::remove(script_path.c_str());
  if (!code || *code != 0 || !is_png_file(png_path)) {
    throw_error(ErrorCode::SystemError,
                str("plot: gnuplot ", code ? str("exited with code ", *code) : "timed out",
                    " drawing ", png_path, ": ", err));
  }
}

bool is_png_file(const std::string& path) {
  static const unsigned char kMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::ifstream f(path, std::ios::binary);
  unsigned char head[8] = {};
  f.read(reinterpret_cast<char*>(head), 8);
  if (f.gcount() != 8) return false;
  for (int i = 0; i < 8; ++i) {
    if (head[i] != kMagic[i]) return false;
  }
  return true;
}

}  // namespace weft::perf
