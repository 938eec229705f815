// Logging: `[host:pid] weft rank R LEVEL subsys: message`, like NCCL_DEBUG.
//
//   WEFT_DEBUG=WARN|INFO|TRACE   (NONE silences everything; default WARN)
//   WEFT_DEBUG_SUBSYS=store,net  (ALL by default; ^name excludes)
//   WEFT_DEBUG_FILE=/tmp/weft.%h.%p.log
//
// The level check is one load and a compare, so disabled logs cost nothing measurable.
#pragma once

#include <string>
#include <string_view>

#include "weft/error.h"

namespace weft::log {

enum class Level { None = 0, Warn = 1, Info = 2, Trace = 3 };

bool enabled(Level level, std::string_view subsys) noexcept;
void write(Level level, std::string_view subsys, const std::string& message) noexcept;

// The rank printed in the prefix: a process-wide default (set by a
// communicator or launcher) and a per-thread override for threads that act
// for a specific rank (tests run several ranks in one process).
void set_process_rank(int rank) noexcept;
class ScopedRank {
 public:
  explicit ScopedRank(int rank) noexcept;
  ~ScopedRank();
  ScopedRank(const ScopedRank&) = delete;
  ScopedRank& operator=(const ScopedRank&) = delete;

 private:
  int previous_;
  bool changed_ = false;
};

// Re-reads WEFT_DEBUG* from the environment (tests change them at run time).
void reload_config() noexcept;

}  // namespace weft::log

#define WEFT_LOG(level, subsys, ...)                                             \
  do {                                                                           \
    if (::weft::log::enabled(::weft::log::Level::level, subsys))                 \
      ::weft::log::write(::weft::log::Level::level, subsys, ::weft::str(__VA_ARGS__)); \
  } while (0)
#define WEFT_WARN(subsys, ...) WEFT_LOG(Warn, subsys, __VA_ARGS__)
#define WEFT_INFO(subsys, ...) WEFT_LOG(Info, subsys, __VA_ARGS__)
#define WEFT_TRACE(subsys, ...) WEFT_LOG(Trace, subsys, __VA_ARGS__)
