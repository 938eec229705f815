#include "worker_env.h"

#include <string>

extern char** environ;

namespace weftrun {

Environment current_environment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string kv(*entry);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

Environment worker_environment(const Environment& base, const WorkerPlace& place, const RunInfo& run) {
  Environment env = base;
  auto set = [&](const char* name, const std::string& value) { env[name] = value; };
  auto set_int = [&](const char* name, int value) { env[name] = std::to_string(value); };
  set_int("RANK", place.rank);
  set_int("LOCAL_RANK", place.local_rank);
  set_int("WORLD_SIZE", place.world_size);
  set_int("LOCAL_WORLD_SIZE", place.local_world_size);
  set_int("GROUP_RANK", place.group_rank);
  set_int("GROUP_WORLD_SIZE", place.group_world_size);
  // One role ("default") covers every worker, so role ranks are global ranks.
  set("ROLE_NAME", "default");
  set_int("ROLE_RANK", place.rank);
  set_int("ROLE_WORLD_SIZE", place.world_size);
  set("MASTER_ADDR", run.master_addr);
  set_int("MASTER_PORT", run.master_port);
  set("WEFT_RUN_ID", run.run_id);
  set_int("WEFT_RESTART_COUNT", run.restart_count);
  set("TORCHELASTIC_RUN_ID", run.run_id);
  set_int("TORCHELASTIC_RESTART_COUNT", run.restart_count);
  set_int("TORCHELASTIC_MAX_RESTARTS", run.max_restarts);
  set("TORCHELASTIC_USE_AGENT_STORE", "True");
  if (env.find("OMP_NUM_THREADS") == env.end()) set("OMP_NUM_THREADS", "1");
  return env;
}

}  // namespace weftrun
