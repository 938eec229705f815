#pragma once
#include "weft/env.h"

namespace weft::env {
// The raw registry table (unsorted as written); env.cc sorts and indexes it.
const std::vector<Variable>& registry_table();
}  // namespace weft::env
