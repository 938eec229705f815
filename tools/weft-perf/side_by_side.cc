#include "side_by_side.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "weft/error.h"

namespace weft::perf {
namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

// The row to show for `bytes`: the requested placement, else the other one
// (marked), else none.
const Row* pick(const Result& r, std::uint64_t bytes, bool in_place, bool* substituted) {
  *substituted = false;
  if (const Row* row = r.find(bytes, in_place)) return row;
  *substituted = true;
  return r.find(bytes, !in_place);
}

}  // namespace

void print_side_by_side(std::ostream& out, const std::vector<Result>& results, bool in_place,
                        Bounds bounds) {
  WEFT_REQUIRE(!results.empty(), "side-by-side table: no results");
  for (const auto& r : results) {
    WEFT_REQUIRE(r.collective == results[0].collective && r.nranks == results[0].nranks,
                 "side-by-side table: cannot compare ", r.library, "'s ", r.collective, " on ",
                 r.nranks, " ranks with ", results[0].library, "'s ", results[0].collective,
                 " on ", results[0].nranks, " ranks");
  }
  std::size_t ref = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].library == "weft") ref = i;
  }
  std::set<std::uint64_t> sizes;
  for (const auto& r : results) {
    for (const auto& row : r.rows) sizes.insert(row.bytes);
  }

  const std::size_t w = 11;
  out << "# " << results[0].collective << ", " << results[0].dtype << " " << results[0].op
      << ", " << results[0].nranks << " ranks, " << (in_place ? "in-place" : "out-of-place")
      << " (* = " << (in_place ? "out-of-place" : "in-place")
      << " row: the library has no other)\n";
  // One "<lib>/<name>" column per library for each bound given.
  std::vector<std::pair<std::string, double>> fractions;
  if (bounds.single > 0) fractions.emplace_back("bound", bounds.single);
  if (bounds.shared > 0) fractions.emplace_back("shared", bounds.shared);
  if (bounds.single > 0) {
    out << "# bound: " << fmt("%.2f", bounds.single)
        << " GB/s algbw (fewest bytes a rank reads and writes, at the single-core memcpy rate; "
           "README.md)\n";
  }
  if (bounds.shared > 0) {
    out << "# shared bound: " << fmt("%.2f", bounds.shared)
        << " GB/s algbw (the same bytes at one core's share of memcpy when every rank copies at "
           "once)\n";
  }
  std::string h1 = "# " + pad("size", 10), h2 = "# " + pad("(B)", 10);
  for (const auto& r : results) {
    h1 += pad(r.library + " time", w + 1) + pad(r.library + " busbw", w + 1);
    h2 += pad("(us)", w + 1) + pad("(GB/s)", w + 1);
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (i == ref) continue;
    h1 += pad(results[ref].library + "/" + results[i].library, w + 1);
    h2 += pad("busbw", w + 1);
  }
  for (const auto& [name, algbw] : fractions) {
    for (const auto& r : results) {
      h1 += pad(r.library + "/" + name, w + 1);
      h2 += pad("algbw", w + 1);
    }
  }
  out << h1 << "\n" << h2 << "\n";

  for (std::uint64_t bytes : sizes) {
    std::string line = "  " + pad(std::to_string(bytes), 10);
    std::vector<const Row*> rows;
    for (const auto& r : results) {
      bool sub = false;
      const Row* row = pick(r, bytes, in_place, &sub);
      rows.push_back(row);
      if (row == nullptr) {
        line += pad("-", w + 1) + pad("-", w + 1);
      } else {
        std::string mark = sub ? "*" : "";
        line += pad(fmt("%.1f", row->time_us) + mark, w + 1) +
                pad(fmt("%.2f", row->busbw_gbs) + mark, w + 1);
      }
    }
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (i == ref) continue;
      bool ok = rows[ref] != nullptr && rows[i] != nullptr && rows[i]->busbw_gbs > 0;
      line += pad(ok ? fmt("%.2fx", rows[ref]->busbw_gbs / rows[i]->busbw_gbs) : "-", w + 1);
    }
    for (const auto& [name, algbw] : fractions) {
      for (const Row* row : rows) line += pad(row ? fmt("%.2f", row->algbw_gbs / algbw) : "-", w + 1);
    }
    out << line << "\n";
  }
  for (const auto& r : results) {
    out << "# wrong: " << r.total_wrong() << " (" << r.library << ")\n";
  }
}

}  // namespace weft::perf
