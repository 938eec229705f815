#include "group.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "weft/error.h"

namespace weftrun {
namespace {

constexpr size_t kTailLines = 20;

// Reads a non-blocking pipe until it would block; false at end of stream.
bool read_available(int fd, StreamSink& sink) {
  char buffer[16384];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      sink.write(std::string_view(buffer, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;  // EOF or error
  }
}

}  // namespace

WorkerGroup::WorkerGroup(const Options& options, const std::string& host, const std::vector<WorkerPlace>& places,
                         const RunInfo& run, const std::string& log_dir)
    : host_(host) {
  Environment base = current_environment();
  for (const WorkerPlace& place : places) {
    try {
      std::string out_log, err_log;
      if (!log_dir.empty()) {
        std::string dir = weft::str(log_dir, "/rank_", place.rank);
        std::filesystem::create_directories(dir);
        out_log = dir + "/stdout.log";
        err_log = dir + "/stderr.log";
      }
      std::string prefix = weft::str("[", place.rank, "]:");
      int out_console = options.redirects.out(place.local_rank) ? -1 : STDOUT_FILENO;
      int err_console = options.redirects.err(place.local_rank) ? -1 : STDERR_FILENO;
      auto out = std::make_unique<StreamSink>(prefix, out_console, out_log, 0);
      auto err = std::make_unique<StreamSink>(prefix, err_console, err_log, kTailLines);
      Process process = Process::spawn(options.command, worker_environment(base, place, run));
      workers_.push_back(std::make_unique<LocalWorker>(
          LocalWorker{place, std::move(process), std::move(out), std::move(err)}));
      reported_.push_back(false);
    } catch (const std::exception& e) {
      // Reported like a failed worker, so every node stops (the workers
      // started so far are running and get stopped with the rest).
      const weft::Error* we = dynamic_cast<const weft::Error*>(&e);
      launch_error_ = weft::str("rank ", place.rank, " (host ", host, ", local rank ", place.local_rank,
                                ") could not start: ", we ? we->message() : std::string(e.what()));
      return;
    }
  }
}

WorkerGroup::~WorkerGroup() {
  for (auto& w : workers_)
    if (w->process.running()) w->process.signal_group(SIGKILL);
}

void WorkerGroup::add_poll_fds(std::vector<pollfd>& fds) const {
  for (const auto& w : workers_) {
    if (w->process.stdout_fd() >= 0) fds.push_back({w->process.stdout_fd(), POLLIN, 0});
    if (w->process.stderr_fd() >= 0) fds.push_back({w->process.stderr_fd(), POLLIN, 0});
  }
}

void WorkerGroup::pump(LocalWorker& w) {
  if (w.process.stdout_fd() >= 0 && !read_available(w.process.stdout_fd(), *w.out)) {
    w.out->finish();
    w.process.close_stdout();
  }
  if (w.process.stderr_fd() >= 0 && !read_available(w.process.stderr_fd(), *w.err)) {
    w.err->finish();
    w.process.close_stderr();
  }
}

void WorkerGroup::pump() {
  for (auto& w : workers_) pump(*w);
}

void WorkerGroup::drain(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    pump();
    std::vector<pollfd> fds;
    add_poll_fds(fds);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (fds.empty() || left.count() <= 0) break;
    ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
  }
  for (auto& w : workers_) {
    w->out->finish();
    w->err->finish();
  }
}

std::optional<size_t> WorkerGroup::reap_failure() {
  for (size_t i = 0; i < workers_.size(); ++i) {
    LocalWorker& w = *workers_[i];
    auto status = w.process.poll();
    if (!status || status->success() || reported_[i]) continue;
    reported_[i] = true;
    // Its last words may still sit in the pipe: read them before quoting.
    pump(w);
    w.err->finish();
    return i;
  }
  return std::nullopt;
}

bool WorkerGroup::all_succeeded() const {
  for (const auto& w : workers_)
    if (!w->process.status() || !w->process.status()->success()) return false;
  return true;
}

void WorkerGroup::stop(std::chrono::milliseconds grace, int signal) {
  using Clock = std::chrono::steady_clock;
  for (auto& w : workers_)
    if (w->process.running()) w->process.signal_group(signal);
  const auto kill_at = Clock::now() + grace;
  bool killed = false;
  for (;;) {
    bool any_running = false;
    for (auto& w : workers_) {
      pump(*w);
      w->process.poll();
      any_running = any_running || w->process.running();
    }
    if (!any_running) break;
    if (!killed && Clock::now() >= kill_at) {
      for (auto& w : workers_)
        if (w->process.running()) w->process.signal_group(SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Descendants that outlived their worker (and hold its pipes) go too.
  for (auto& w : workers_) w->process.signal_group(SIGKILL);
  drain(std::chrono::milliseconds(500));
}

std::string WorkerGroup::describe_exit(size_t i) const {
  const LocalWorker& w = *workers_[i];
  std::string status = w.process.status() ? w.process.status()->describe() : "is still running";
  return weft::str("rank ", w.place.rank, " (host ", host_, ", local rank ", w.place.local_rank, ", pid ",
                   w.process.pid(), ") ", status);
}

}  // namespace weftrun
