#include "signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "weft/error.h"

namespace weftrun {
namespace {

// Signal handlers can only reach globals; these are the unavoidable ones.
int g_pipe[2] = {-1, -1};
std::atomic<int> g_termination{0};
constexpr int kTermination[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
struct sigaction g_previous[65];

void on_signal(int signal) {
  int saved = errno;
  if (signal != SIGCHLD) {
    int expected = 0;
    g_termination.compare_exchange_strong(expected, signal);
  }
  char byte = 0;
  ssize_t ignored = ::write(g_pipe[1], &byte, 1);
  (void)ignored;
  errno = saved;
}

}  // namespace

SignalEvents::SignalEvents() {
  if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) weft::throw_errno("weftrun: pipe");
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : kTermination) ::sigaction(sig, &action, &g_previous[sig]);
  action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  ::sigaction(SIGCHLD, &action, &g_previous[SIGCHLD]);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &g_previous[SIGPIPE]);
}

SignalEvents::~SignalEvents() {
  for (int sig : kTermination) ::sigaction(sig, &g_previous[sig], nullptr);
  ::sigaction(SIGCHLD, &g_previous[SIGCHLD], nullptr);
  ::sigaction(SIGPIPE, &g_previous[SIGPIPE], nullptr);
  ::close(g_pipe[0]);
  ::close(g_pipe[1]);
  g_pipe[0] = g_pipe[1] = -1;
}

int SignalEvents::fd() const { return g_pipe[0]; }

void SignalEvents::drain() const {
  char buffer[64];
  while (::read(g_pipe[0], buffer, sizeof buffer) > 0) {
  }
}

int SignalEvents::termination_signal() const { return g_termination.load(); }

}  // namespace weftrun
