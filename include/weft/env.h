// The one registry of weft's environment variables.
//
// Every WEFT_* variable that weft reads is declared once, in
// src/core/env_registry.cc, with its default and a one-line doc. Reading a
// variable that is not registered is a weft bug (Internal error), so the
// registry cannot drift from the code. `weft-info --env` prints the table, and
// a WEFT_* variable in the environment that nobody registered (a typo) gets a
// warning that suggests the nearest registered name.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::env {

struct Variable {
  std::string_view name;           // e.g. "WEFT_DEBUG"
  std::string_view default_value;  // as the text one would set
  std::string_view doc;            // one line
};

// The full registry, sorted by name.
const std::vector<Variable>& registry();

// The registered entry for `name`; throws Internal if `name` is not registered.
const Variable& lookup(std::string_view name);

// The value set in the environment, or nullopt.
std::optional<std::string> raw(std::string_view name);
// The value, or the registered default when unset or empty.
std::string get(std::string_view name);
// Typed getters; a malformed value is an InvalidArgument naming the variable.
int64_t get_int(std::string_view name);
double get_double(std::string_view name);
bool get_bool(std::string_view name);  // 1/0, true/false, yes/no, on/off
std::chrono::milliseconds get_seconds(std::string_view name);  // value in (fractional) seconds

// WEFT_* names present in the environment but absent from the registry,
// each paired with the closest registered name (by edit distance).
struct Unknown {
  std::string name;
  std::string suggestion;
};
std::vector<Unknown> unknown_variables();

// Logs one WARN per unknown WEFT_* variable, once per process.
void warn_unknown_once();

}  // namespace weft::env
