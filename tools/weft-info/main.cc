// weft-info: what this build of weft is and how it is configured.
//
//   weft-info          version, build options, host
//   weft-info --env    every WEFT_* variable: default, current value, doc
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "weft/env.h"

namespace {

void print_env_table() {
  std::printf("%-30s %-12s %-12s %s\n", "VARIABLE", "DEFAULT", "CURRENT", "DESCRIPTION");
  for (const auto& var : weft::env::registry()) {
    auto current = weft::env::raw(var.name);
    std::string def = var.default_value.empty() ? "(unset)" : std::string(var.default_value);
    std::printf("%-30.*s %-12s %-12s %.*s\n", static_cast<int>(var.name.size()), var.name.data(),
                def.c_str(), current ? current->c_str() : "-", static_cast<int>(var.doc.size()),
                var.doc.data());
  }
  for (const auto& u : weft::env::unknown_variables())
    std::printf("warning: %s is set but unknown to weft; did you mean %s?\n", u.name.c_str(),
                u.suggestion.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft-info: build, configuration and host information"};
  bool show_env = false;
  app.add_flag("--env", show_env, "List every WEFT_* environment variable");
  CLI11_PARSE(app, argc, argv);

  if (show_env) {
    print_env_table();
    return 0;
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::printf("weft %s\n", WEFT_VERSION);
  std::printf("host: %s, %ld CPUs online\n", host, sysconf(_SC_NPROCESSORS_ONLN));
#ifdef WEFT_WITH_CUDA
  std::printf("CUDA: built in\n");
#else
  std::printf("CUDA: not built\n");
#endif
  weft::env::warn_unknown_once();
  return 0;
}
