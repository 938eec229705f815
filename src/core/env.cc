#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "core/env_registry.h"
#include "weft/error.h"
#include "weft/log.h"

extern char** environ;

namespace weft::env {
namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

const std::vector<Variable>& registry() {
  static const std::vector<Variable> sorted = [] {
    std::vector<Variable> table = registry_table();
    std::sort(table.begin(), table.end(),
              [](const Variable& a, const Variable& b) { return a.name < b.name; });
    return table;
  }();
  return sorted;
}

const Variable& lookup(std::string_view name) {
  const auto& table = registry();
  auto it = std::lower_bound(table.begin(), table.end(), name,
                             [](const Variable& v, std::string_view n) { return v.name < n; });
  if (it == table.end() || it->name != name)
    throw_error(ErrorCode::Internal, str("environment variable ", name,
                                         " is read but not registered in src/core/env_registry.cc"));
  return *it;
}

std::optional<std::string> raw(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string get(std::string_view name) {
  const Variable& var = lookup(name);
  auto value = raw(name);
  if (!value || value->empty()) return std::string(var.default_value);
  return *value;
}

int64_t get_int(std::string_view name) {
  std::string text = get(name);
  try {
    size_t used = 0;
    int64_t value = std::stoll(text, &used, 0);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw_error(ErrorCode::InvalidArgument, str(name, "=", text, " is not an integer"));
}

double get_double(std::string_view name) {
  std::string text = get(name);
  try {
    size_t used = 0;
    double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw_error(ErrorCode::InvalidArgument, str(name, "=", text, " is not a number"));
}

bool get_bool(std::string_view name) {
  std::string text = get(name);
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
  if (text == "0" || text == "false" || text == "no" || text == "off" || text.empty()) return false;
  throw_error(ErrorCode::InvalidArgument, str(name, "=", text, " is not a boolean (use 1 or 0)"));
}

std::chrono::milliseconds get_seconds(std::string_view name) {
  double seconds = get_double(name);
  if (seconds < 0)
    throw_error(ErrorCode::InvalidArgument, str(name, "=", seconds, " must not be negative"));
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

std::vector<Unknown> unknown_variables() {
  std::vector<Unknown> unknown;
  const auto& table = registry();
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view kv(*entry);
    if (!kv.starts_with("WEFT_")) continue;
    std::string_view name = kv.substr(0, kv.find('='));
    auto it = std::find_if(table.begin(), table.end(), [&](const Variable& v) { return v.name == name; });
    if (it != table.end()) continue;
    // Variables weftrun sets for its workers are not configuration knobs.
    if (name == "WEFT_RUN_ID" || name == "WEFT_RESTART_COUNT") continue;
    Unknown u{std::string(name), ""};
    size_t best = SIZE_MAX;
    for (const auto& v : table) {
      size_t d = edit_distance(name, v.name);
      if (d < best) best = d, u.suggestion = std::string(v.name);
    }
    unknown.push_back(std::move(u));
  }
  return unknown;
}

void warn_unknown_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const auto& u : unknown_variables())
      WEFT_WARN("env", u.name, " is set but weft does not know it; did you mean ", u.suggestion,
                "? (weft-info --env lists every variable)");
  });
}

}  // namespace weft::env
