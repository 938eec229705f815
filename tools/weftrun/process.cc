#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <utility>

#include "weft/error.h"

namespace weftrun {
namespace {

using weft::str;

// PATH lookup in the parent, so the child only calls execve (fork in a
// process with threads: the child may only use async-signal-safe calls).
std::string find_executable(const std::string& name, const Environment& env) {
  if (name.find('/') != std::string::npos) return name;
  auto path = env.find("PATH");
  std::stringstream dirs(path == env.end() ? "/usr/local/bin:/usr/bin:/bin" : path->second);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  weft::throw_error(weft::ErrorCode::InvalidArgument, str("cannot execute '", name, "': not found in PATH"));
}

}  // namespace

std::string signal_name(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? str("SIG", abbrev) : str("signal ", signal);
}

std::string ExitStatus::describe() const {
  return signal != 0 ? str("killed by ", signal_name(signal)) : str("exited with code ", code);
}

Process Process::spawn(const std::vector<std::string>& argv, const Environment& env) {
  WEFT_REQUIRE(!argv.empty(), "empty command");
  std::string path = find_executable(argv[0], env);

  // Everything the child needs is built before fork.
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  int out[2], err[2], exec_err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) weft::throw_errno("weftrun: pipe");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]), ::close(out[1]);
    weft::throw_errno("weftrun: pipe");
  }
  if (::pipe2(exec_err, O_CLOEXEC) != 0) {
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    weft::throw_errno("weftrun: pipe");
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {out[0], out[1], err[0], err[1], exec_err[0], exec_err[1]}) ::close(fd);
    weft::throw_errno("weftrun: fork");
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the agent died before prctl
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    // Dispositions the agent set must not leak into the worker: ignored
    // signals stay ignored across exec, the mask is inherited.
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // store sockets, other workers' pipes
    ::execve(path.c_str(), args.data(), envp.data());
    int e = errno;
    ssize_t ignored = ::write(exec_err[1], &e, sizeof e);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here: no window where the group does not exist
  ::close(out[1]);
  ::close(err[1]);
  ::close(exec_err[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_err[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_err[0]);

  Process p;
  p.pid_ = pid;
  p.out_fd_ = out[0];
  p.err_fd_ = err[0];
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int wait_raw = 0;
    ::waitpid(pid, &wait_raw, 0);
    p.pid_ = -1;
    weft::throw_error(weft::ErrorCode::InvalidArgument,
                      str("cannot execute '", argv[0], "' (", path, "): ", strerror(child_errno)));
  }
  ::fcntl(p.out_fd_, F_SETFL, O_NONBLOCK);
  ::fcntl(p.err_fd_, F_SETFL, O_NONBLOCK);
  return p;
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      out_fd_(std::exchange(other.out_fd_, -1)),
      err_fd_(std::exchange(other.err_fd_, -1)),
      status_(other.status_) {}

Process::~Process() {
  close_stdout();
  close_stderr();
  if (running()) {
    signal_group(SIGKILL);
    int raw = 0;
    while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
    }
  }
}

void Process::close_stdout() {
  if (out_fd_ >= 0) ::close(out_fd_);
  out_fd_ = -1;
}

void Process::close_stderr() {
  if (err_fd_ >= 0) ::close(err_fd_);
  err_fd_ = -1;
}

std::optional<ExitStatus> Process::poll() {
  if (status_ || pid_ <= 0) return status_;
  int raw = 0;
  pid_t r = ::waitpid(pid_, &raw, WNOHANG);
  if (r == pid_) {
    ExitStatus s;
    if (WIFEXITED(raw)) s.code = WEXITSTATUS(raw);
    if (WIFSIGNALED(raw)) s.signal = WTERMSIG(raw);
    status_ = s;
  }
  return status_;
}

void Process::signal_group(int signal) const {
  if (pid_ > 0) ::kill(-pid_, signal);
}

}  // namespace weftrun
