// weftrun_test_worker: the worker the launcher tests start under weftrun.
//
//   --out DIR          write DIR/rank_<RANK>.env: the launcher variables it saw,
//                      its pid, and what the store barrier found
//   --barrier          connect to the store at MASTER_ADDR:MASTER_PORT (as
//                      torch's env:// does) and wait there until WORLD_SIZE
//                      workers of this round arrived
//   --fail-rank R      rank R fails (after the barrier): --exit CODE (default 1)
//   --exit CODE          or, with --crash, kills itself with SIGKILL
//   --crash
//   --fail-restart K   fail only when WEFT_RESTART_COUNT == K
//   --stderr-lines N   the failing rank first prints N lines to stderr
//   --sleep S          every other rank sleeps S seconds before exiting 0
//   --ignore-term      ... ignoring SIGTERM (so only SIGKILL stops it)
//   --record-signal    ... or, on SIGINT/SIGTERM, writes the signal's number to
//                      DIR/rank_<RANK>.signal and exits 0
//   --chatter          print lines, a line written in two pieces, stderr
//                      lines and an unterminated last line (prefix tests)
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "weft/store.h"

namespace {

int g_signal_fd = -1;  // where the handler records the signal (async-signal-safe write)

void record_signal(int sig) {
  char text[4];
  size_t n = 0;
  if (sig >= 10) text[n++] = static_cast<char>('0' + sig / 10);
  text[n++] = static_cast<char>('0' + sig % 10);
  text[n++] = '\n';
  ssize_t ignored = ::write(g_signal_fd, text, n);
  (void)ignored;
  ::_exit(0);
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "<unset>";
}

int env_int(const char* name) { return std::atoi(env(name).c_str()); }

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir;
  bool barrier = false, crash = false, ignore_term = false, chatter = false, record = false;
  int fail_rank = -1, exit_code = 1, fail_restart = -1, stderr_lines = 0;
  double sleep_s = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--out") out_dir = next();
    else if (a == "--barrier") barrier = true;
    else if (a == "--fail-rank") fail_rank = std::stoi(next());
    else if (a == "--exit") exit_code = std::stoi(next());
    else if (a == "--crash") crash = true;
    else if (a == "--fail-restart") fail_restart = std::stoi(next());
    else if (a == "--stderr-lines") stderr_lines = std::stoi(next());
    else if (a == "--sleep") sleep_s = std::stod(next());
    else if (a == "--ignore-term") ignore_term = true;
    else if (a == "--chatter") chatter = true;
    else if (a == "--record-signal") record = true;
    else {
      std::fprintf(stderr, "test_worker: unknown argument %s\n", a.c_str());
      return 64;
    }
  }
  const int rank = env_int("RANK");
  const int world = env_int("WORLD_SIZE");
  const int restart = env_int("WEFT_RESTART_COUNT");

  if (record && !out_dir.empty()) {
    std::string path = out_dir + "/rank_" + env("RANK") + ".signal";
    g_signal_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::signal(SIGINT, record_signal);
    ::signal(SIGTERM, record_signal);
  }
  std::string store_result = "not tried";
  if (barrier) {
    try {
      weft::TcpStoreOptions o;
      o.host = env("MASTER_ADDR");
      o.port = static_cast<uint16_t>(env_int("MASTER_PORT"));
      o.connect_timeout = std::chrono::seconds(20);
      o.timeout = std::chrono::seconds(20);
      auto store = weft::TcpStore::connect(o);
      std::string key = "test_worker/" + env("WEFT_RUN_ID") + "/" + std::to_string(restart) + "/arrived";
      store->add(key, 1);
      int64_t arrived = 0;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while ((arrived = store->add(key, 0)) < world && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      store_result = "arrived=" + std::to_string(arrived);
    } catch (const std::exception& e) {
      store_result = std::string("error: ") + e.what();
    }
  }
  if (!out_dir.empty()) {
    std::ofstream f(out_dir + "/rank_" + env("RANK") + ".env.tmp");
    for (const char* name :
         {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK",
          "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT", "WEFT_RUN_ID", "WEFT_RESTART_COUNT",
          "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_MAX_RESTARTS",
          "TORCHELASTIC_USE_AGENT_STORE", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "WEFT_HOST_ID"})
      f << name << "=" << env(name) << "\n";
    f << "PID=" << getpid() << "\n";
    f << "STORE=" << store_result << "\n";
    f.close();
    // Rename: a reader never sees a half-written file.
    std::rename((out_dir + "/rank_" + env("RANK") + ".env.tmp").c_str(),
                (out_dir + "/rank_" + env("RANK") + ".env").c_str());
  }
  if (chatter) {
    std::printf("hello from rank %d\n", rank);
    std::printf("piece-");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::printf("and-rest of rank %d\n", rank);
    std::fprintf(stderr, "to stderr from rank %d\n", rank);
    std::printf("unterminated from rank %d", rank);
    std::fflush(stdout);
  }
  if (rank == fail_rank && (fail_restart < 0 || fail_restart == restart)) {
    for (int i = 0; i < stderr_lines; ++i) std::fprintf(stderr, "rank %d stderr line %d\n", rank, i);
    std::fflush(stderr);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (crash) ::kill(getpid(), SIGKILL);
    return exit_code;
  }
  if (ignore_term) ::signal(SIGTERM, SIG_IGN);
  if (sleep_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(sleep_s));
  return 0;
}
