#include "weft/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "weft/env.h"

namespace weft::log {
namespace {

struct Config {
  Level level = Level::Warn;
  bool all_subsys = true;
  std::vector<std::string> include;  // when !all_subsys
  std::vector<std::string> exclude;  // ^name entries
  FILE* sink = stderr;
  std::string host;
};

std::mutex g_mutex;  // guards g_config writes and the sink
Config g_config;
std::atomic<int> g_level{-1};  // -1: not loaded yet
std::atomic<int> g_process_rank{-1};
thread_local int t_rank = -1;

Level parse_level(const std::string& text) {
  if (text == "NONE" || text == "none") return Level::None;
  if (text == "INFO" || text == "info") return Level::Info;
  if (text == "TRACE" || text == "trace") return Level::Trace;
  return Level::Warn;
}

std::string expand_path(const std::string& pattern, const std::string& host) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size()) {
      char c = pattern[++i];
      if (c == 'h') { out += host; continue; }
      if (c == 'p') { out += std::to_string(getpid()); continue; }
      out += '%';
    }
    out += pattern[i];
  }
  return out;
}

void load_locked() {
  Config cfg;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  cfg.host = host;
  cfg.level = parse_level(env::get("WEFT_DEBUG"));
  std::string subsys = env::get("WEFT_DEBUG_SUBSYS");
  size_t start = 0;
  bool any_include = false;
  while (start <= subsys.size()) {
    size_t comma = subsys.find(',', start);
    std::string item = subsys.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      if (item[0] == '^') cfg.exclude.push_back(item.substr(1));
      else if (item == "ALL" || item == "all") any_include = false, cfg.all_subsys = true;
      else cfg.include.push_back(item), any_include = true;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (any_include) cfg.all_subsys = false;
  std::string file = env::get("WEFT_DEBUG_FILE");
  if (!file.empty()) {
    if (FILE* f = std::fopen(expand_path(file, cfg.host).c_str(), "a")) {
      std::setvbuf(f, nullptr, _IOLBF, 0);
      cfg.sink = f;
    }
  }
  if (g_config.sink != stderr && g_config.sink != cfg.sink) std::fclose(g_config.sink);
  g_config = std::move(cfg);
  g_level.store(static_cast<int>(g_config.level), std::memory_order_release);
}

int current_level() {
  int level = g_level.load(std::memory_order_acquire);
  if (level < 0) {
    std::lock_guard lock(g_mutex);
    if (g_level.load() < 0) load_locked();
    level = g_level.load();
  }
  return level;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::Warn: return "WARN";
    case Level::Info: return "INFO";
    case Level::Trace: return "TRACE";
    case Level::None: break;
  }
  return "NONE";
}

}  // namespace

namespace {

// The subsystem filter, for a level that is on (kept out of enabled(), whose
// disabled answer is then a load and a compare without a stack frame).
[[gnu::noinline]] bool subsystem_enabled(std::string_view subsys) noexcept {
  std::lock_guard lock(g_mutex);
  for (const auto& name : g_config.exclude)
    if (name == subsys) return false;
  if (g_config.all_subsys) return true;
  for (const auto& name : g_config.include)
    if (name == subsys) return true;
  return false;
}

}  // namespace

bool enabled(Level level, std::string_view subsys) noexcept {
  int on = g_level.load(std::memory_order_acquire);
  if (on < 0) on = current_level();  // the first call loads the config
  if (static_cast<int>(level) > on) return false;
  return subsystem_enabled(subsys);
}

void write(Level level, std::string_view subsys, const std::string& message) noexcept {
  int rank = t_rank >= 0 ? t_rank : g_process_rank.load(std::memory_order_relaxed);
  std::string rank_text = rank >= 0 ? std::to_string(rank) : std::string("?");
  std::lock_guard lock(g_mutex);
  std::fprintf(g_config.sink, "[%s:%d] weft rank %s %s %.*s: %s\n", g_config.host.c_str(),
               static_cast<int>(getpid()), rank_text.c_str(), level_name(level),
               static_cast<int>(subsys.size()), subsys.data(), message.c_str());
  std::fflush(g_config.sink);
}

void set_process_rank(int rank) noexcept { g_process_rank.store(rank, std::memory_order_relaxed); }

// A thread that acts for the same rank every time (a communicator's caller)
// finds it set already: one access to the thread-local (a __tls_get_addr
// call in a shared library) instead of three.
ScopedRank::ScopedRank(int rank) noexcept {
  int& slot = t_rank;
  previous_ = slot;
  if (previous_ != rank) {
    slot = rank;
    changed_ = true;
  }
}
ScopedRank::~ScopedRank() {
  if (changed_) t_rank = previous_;
}

void reload_config() noexcept {
  std::lock_guard lock(g_mutex);
  load_locked();
}

}  // namespace weft::log
