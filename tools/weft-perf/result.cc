#include "result.h"

#include <fstream>

#include "weft/error.h"

namespace weft::perf {

const char* to_string(Collective c) noexcept {
  switch (c) {
    case Collective::allreduce: return "allreduce";
    case Collective::allgather: return "allgather";
    case Collective::reduce_scatter: return "reduce_scatter";
    case Collective::broadcast: return "broadcast";
    case Collective::reduce: return "reduce";
    case Collective::alltoall: return "alltoall";
    case Collective::sendrecv: return "sendrecv";
  }
  return "?";
}

bool is_reduction(Collective c) noexcept {
  return c == Collective::allreduce || c == Collective::reduce_scatter || c == Collective::reduce;
}

bool has_root(Collective c) noexcept {
  return c == Collective::broadcast || c == Collective::reduce;
}

bool counts_per_rank(Collective c) noexcept {
  return c == Collective::allgather || c == Collective::reduce_scatter ||
         c == Collective::alltoall;
}

std::optional<Collective> parse_collective(std::string_view text) noexcept {
  for (auto c : kAllCollectives) {
    if (text == to_string(c)) return c;
  }
  return std::nullopt;
}

std::uint64_t parse_bytes(const std::string& text) {
  std::size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    throw_error(ErrorCode::InvalidArgument, str("bad size \"", text, "\""));
  }
  const std::string suffix = text.substr(used);
  int shift = 0;
  if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else WEFT_REQUIRE(suffix.empty(), "bad size \"", text, "\" (use a number with K, M or G)");
  WEFT_REQUIRE(value <= (~0ull >> shift), "size \"", text, "\" is too large");
  return static_cast<std::uint64_t>(value) << shift;
}

double busbw_factor(Collective c, int nranks) noexcept {
  if (nranks <= 0) return 0;
  const double n = nranks;
  switch (c) {
    case Collective::allreduce: return 2.0 * (n - 1) / n;
    case Collective::allgather:
    case Collective::reduce_scatter:
    case Collective::alltoall: return (n - 1) / n;
    case Collective::broadcast:
    case Collective::reduce:
    case Collective::sendrecv: return 1.0;
  }
  return 0;
}

void Row::set_bandwidth(Collective c, int nranks) {
  algbw_gbs = time_us > 0 ? static_cast<double>(bytes) / (time_us * 1e3) : 0;
  busbw_gbs = algbw_gbs * busbw_factor(c, nranks);
}

std::uint64_t Result::total_wrong() const {
  std::uint64_t total = 0;
  for (const auto& row : rows) total += row.wrong;
  return total;
}

const Row* Result::find(std::uint64_t bytes, bool in_place) const {
  for (const auto& row : rows) {
    if (row.bytes == bytes && row.in_place == in_place) return &row;
  }
  return nullptr;
}

nlohmann::json to_json(const Result& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : r.rows) {
    nlohmann::json j = {{"bytes", row.bytes},       {"count", row.count},
                        {"time_us", row.time_us},   {"algbw_gbs", row.algbw_gbs},
                        {"busbw_gbs", row.busbw_gbs}, {"wrong", row.wrong},
                        {"in_place", row.in_place}};
    if (!row.algo.empty()) j["algo"] = row.algo;
    rows.push_back(std::move(j));
  }
  return {{"library", r.library}, {"collective", r.collective}, {"dtype", r.dtype},
          {"op", r.op},           {"nranks", r.nranks},         {"rows", std::move(rows)}};
}

namespace {

// j[key] converted to T, or InvalidArgument naming where it is missing.
template <typename T>
T field(const nlohmann::json& j, const char* key, const char* where) {
  auto it = j.find(key);
  WEFT_REQUIRE(it != j.end(), "perf result JSON: ", where, " has no field \"", key, "\"");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw_error(ErrorCode::InvalidArgument,
                str("perf result JSON: ", where, " field \"", key, "\" has the wrong type: ",
                    it->dump()));
  }
}

}  // namespace

Result result_from_json(const nlohmann::json& j) {
  WEFT_REQUIRE(j.is_object(), "perf result JSON: expected an object, got ", j.dump());
  Result r;
  r.library = field<std::string>(j, "library", "result");
  r.collective = field<std::string>(j, "collective", "result");
  r.dtype = field<std::string>(j, "dtype", "result");
  r.op = field<std::string>(j, "op", "result");
  r.nranks = field<int>(j, "nranks", "result");
  auto rows = field<nlohmann::json>(j, "rows", "result");
  WEFT_REQUIRE(rows.is_array(), "perf result JSON: \"rows\" is not an array");
  for (const auto& jr : rows) {
    Row row;
    row.bytes = field<std::uint64_t>(jr, "bytes", "row");
    row.count = field<std::uint64_t>(jr, "count", "row");
    row.time_us = field<double>(jr, "time_us", "row");
    row.algbw_gbs = field<double>(jr, "algbw_gbs", "row");
    row.busbw_gbs = field<double>(jr, "busbw_gbs", "row");
    row.wrong = field<std::uint64_t>(jr, "wrong", "row");
    row.in_place = field<bool>(jr, "in_place", "row");
    if (jr.contains("algo")) row.algo = field<std::string>(jr, "algo", "row");
    r.rows.push_back(std::move(row));
  }
  return r;
}

Result read_result_file(const std::string& path) {
  std::ifstream in(path);
  WEFT_REQUIRE(in.good(), "perf result JSON: cannot open ", path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw_error(ErrorCode::InvalidArgument, str("perf result JSON: ", path, ": ", e.what()));
  }
  return result_from_json(j);
}

void write_result_file(const std::string& path, const Result& r) {
  std::ofstream out(path);
  if (!out.good()) throw_errno(str("cannot write ", path));
  out << to_json(r).dump(1) << "\n";
  if (!out.good()) throw_errno(str("cannot write ", path));
}

}  // namespace weft::perf
