// A child process for the comparison launcher: spawned with extra environment
// and its output in files, waited for with a deadline, killed (SIGKILL) and
// reaped if it is destroyed while still running, so a failed comparison
// leaves no stray ranks behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weft::perf {

class ChildProcess {
 public:
  struct Options {
    std::vector<std::pair<std::string, std::string>> env;  // added / overridden
    std::string stdout_path;  // empty: inherit
    std::string stderr_path;  // empty: inherit
  };
  // Throws SystemError when the executable cannot be started.
  static ChildProcess spawn(const std::vector<std::string>& argv, const Options& options);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // The exit code (128 + signal when killed), or nullopt if still running at the deadline.
  std::optional<int> wait_until(std::chrono::steady_clock::time_point deadline);
  void kill();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// The directory of the running executable (where the comparators are built
// and installed next to weft-perf).
std::string executable_dir();
// Searches PATH for `name`; "" when absent.
std::string find_in_path(const std::string& name);

}  // namespace weft::perf
