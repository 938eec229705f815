#include "launcher_util.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace weft::test {

Started start_logged(const std::vector<std::string>& argv, const std::string& dir, const std::string& name,
                     const std::vector<std::pair<std::string, std::string>>& env) {
  Subprocess::Options options;
  options.env = env;
  options.stdout_path = dir + "/" + name + ".out";
  options.stderr_path = dir + "/" + name + ".err";
  auto start = std::chrono::steady_clock::now();
  return Started{Subprocess::spawn(argv, options), options.stdout_path, options.stderr_path, start};
}

Finished finish(Started& started, std::chrono::milliseconds timeout) {
  Finished f;
  auto status = started.process.wait_for(timeout);
  if (!status) {
    f.timed_out = true;
    started.process.kill(SIGKILL);
    status = started.process.wait_for(std::chrono::seconds(10));
  }
  f.status = status.value_or(ExitStatus{});
  f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started.start).count();
  f.out = read_file(started.out_path);
  f.err = read_file(started.err_path);
  return f;
}

std::vector<std::string> weftrun_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "OMP_NUM_THREADS", bin("weftrun")};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<std::string> worker_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"--", bin("weftrun_test_worker")};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

EnvFile read_env_file(const std::string& dir, int rank) {
  EnvFile env;
  std::istringstream in(read_file(dir + "/rank_" + std::to_string(rank) + ".env"));
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

bool wait_env_files(const std::string& dir, int count, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int present = 0;
    for (int r = 0; r < count; ++r)
      present += std::filesystem::exists(dir + "/rank_" + std::to_string(r) + ".env") ? 1 : 0;
    if (present == count) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool process_alive(int pid) {
  // A zombie counts as gone: it no longer runs anything.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

int free_port() {
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    int port = 20000 + static_cast<int>(random() % 12000);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return port;
  }
  return 0;
}

size_t count_occurrences(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++count;
  return count;
}

}  // namespace weft::test
