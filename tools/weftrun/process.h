// One worker process: started with fork/exec in its own process group (so a
// stop reaches everything it spawned), with its stdout/stderr on pipes the
// agent reads, and PR_SET_PDEATHSIG so it dies with a killed agent.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "worker_env.h"

namespace weftrun {

struct ExitStatus {
  int code = 0;    // exit code when it exited
  int signal = 0;  // the signal that killed it, 0 when it exited
  bool success() const { return signal == 0 && code == 0; }
  // "exited with code 3" / "killed by SIGKILL"
  std::string describe() const;
  // What a shell would report: code, or 128 + signal.
  int shell_code() const { return signal != 0 ? 128 + signal : code; }
};

// "SIGTERM" for 15, "signal 77" when unnamed.
std::string signal_name(int signal);

class Process {
 public:
  // Starts argv[0] (searched in env's PATH when it has no '/') with exactly
  // `env`. Throws weft::Error(InvalidArgument) when it cannot be executed.
  static Process spawn(const std::vector<std::string>& argv, const Environment& env);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) = delete;
  Process(const Process&) = delete;
  ~Process();  // a still-running process group is killed (SIGKILL) and reaped

  pid_t pid() const { return pid_; }
  // Read ends of the output pipes (non-blocking); -1 once closed.
  int stdout_fd() const { return out_fd_; }
  int stderr_fd() const { return err_fd_; }
  void close_stdout();
  void close_stderr();

  // Reaps without blocking; the status once it has exited.
  std::optional<ExitStatus> poll();
  const std::optional<ExitStatus>& status() const { return status_; }
  bool running() const { return pid_ > 0 && !status_; }
  // Signals the whole process group (the worker and its descendants).
  void signal_group(int signal) const;

 private:
  Process() = default;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::optional<ExitStatus> status_;
};

}  // namespace weftrun
