// Real child processes for multi-process tests: spawn, wait with a deadline,
// kill. A Subprocess that is destroyed while running is killed (SIGKILL) and
// reaped, so a failing test never leaves orphans behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weft::test {

struct ExitStatus {
  int code = -1;    // exit code when exited normally
  int signal = 0;   // terminating signal, 0 if exited normally
  bool exited() const { return signal == 0; }
};

class Subprocess {
 public:
  struct Options {
    std::vector<std::pair<std::string, std::string>> env;  // added/overridden variables
    std::string stdout_path;  // empty: inherit
    std::string stderr_path;  // empty: inherit
  };
  static Subprocess spawn(const std::vector<std::string>& argv, const Options& options);
  static Subprocess spawn(const std::vector<std::string>& argv) { return spawn(argv, Options{}); }

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // Waits up to `timeout`; nullopt if still running then.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  // Non-blocking poll.
  std::optional<ExitStatus> poll();
  void kill(int signal);

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

// Directory holding the project's built executables (build/bin).
std::string bin_dir();
// Path of a built executable by name (bin_dir()/name).
std::string bin(const std::string& name);
// A fresh temporary directory, removed by the caller if wanted.
std::string make_temp_dir(const std::string& tag);
// Reads a whole file ("" if missing).
std::string read_file(const std::string& path);

}  // namespace weft::test
