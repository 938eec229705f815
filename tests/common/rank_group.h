// RankGroup: the harness of the multi-process communicator tests. It hosts a
// store, spawns one worker process per rank (RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT set, output to files), and reads back each rank's line
//   RESULT rank=R code=OK|<ErrorCode> t_ms=<epoch ms> msg=<text>
// A rank that outlives the deadline is killed and reported as "HUNG".
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "rank_report.h"
#include "subprocess.h"
#include "weft/store.h"

namespace weft::test {

using Env = std::vector<std::pair<std::string, std::string>>;

struct Result {
  int rank = -1;
  std::string code;  // "OK" or an ErrorCode name; "" when the rank printed nothing
  long long t_ms = 0;
  std::string msg;
  ExitStatus status;
  std::string output;  // stdout + stderr
};

class RankGroup {
 public:
  // `env` goes to every rank, `env_of(r)` to rank r only.
  RankGroup(const std::string& worker, const std::string& tag, int n,
            std::vector<std::string> args, const Env& env = {},
            std::function<Env(int)> env_of = {})
      : n_(n), dir_(make_temp_dir(tag)) {
    StoreServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    server_ = StoreServer::start(so);
    for (int r = 0; r < n; ++r) {
      Subprocess::Options o;
      o.env = env;
      o.env.push_back({"RANK", std::to_string(r)});
      o.env.push_back({"WORLD_SIZE", std::to_string(n)});
      o.env.push_back({"MASTER_ADDR", "127.0.0.1"});
      o.env.push_back({"MASTER_PORT", std::to_string(server_->port())});
      if (env_of)
        for (auto& kv : env_of(r)) o.env.push_back(kv);
      o.stdout_path = out_path(r);
      o.stderr_path = dir_ + "/err." + std::to_string(r);
      std::vector<std::string> argv = {bin(worker)};
      argv.insert(argv.end(), args.begin(), args.end());
      procs_.push_back(Subprocess::spawn(argv, o));
    }
  }
  std::string out_path(int r) const { return dir_ + "/out." + std::to_string(r); }
  std::string out(int r) const { return read_file(out_path(r)); }
  Subprocess& proc(int r) { return procs_[r]; }
  // Polls rank r's output until it contains `text`; false after `timeout`.
  bool wait_for_output(int r, const std::string& text, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out(r).find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  // Waits for every rank (ranks in `skip` are not waited for) and parses.
  std::vector<Result> wait(std::chrono::milliseconds timeout, std::vector<int> skip = {}) {
    using namespace std::chrono_literals;
    std::vector<Result> results(n_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int r = 0; r < n_; ++r) {
      results[r].rank = r;
      if (std::find(skip.begin(), skip.end(), r) != skip.end()) continue;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto st = procs_[r].wait_for(std::max(left, std::chrono::milliseconds(1)));
      if (!st) {
        procs_[r].kill(SIGKILL);
        st = procs_[r].wait_for(5s);
        results[r].code = "HUNG";
      }
      results[r].status = st.value_or(ExitStatus{});
      const std::string stdout_text = out(r);
      results[r].output = stdout_text + read_file(dir_ + "/err." + std::to_string(r));
      // The regex runs on the RESULT line only: libstdc++'s regex recurses
      // per character, and a worker that printed thousands of wrong values
      // would overflow the stack instead of failing the test.
      static const std::regex re(R"(RESULT rank=(-?\d+) code=(\S+) t_ms=(\d+) msg=(.*))");
      std::smatch m;
      std::string line;
      bool found = false;
      for (size_t at = stdout_text.find("RESULT rank="); !found && at != std::string::npos;
           at = stdout_text.find("RESULT rank=", at + 1)) {
        line = stdout_text.substr(at, stdout_text.find('\n', at) - at);
        found = std::regex_search(line, m, re);
      }
      if (results[r].code.empty() && found) {
        results[r].code = m[2];
        results[r].t_ms = std::stoll(m[3]);
        results[r].msg = m[4];
      }
    }
    return results;
  }

 private:
  int n_;
  std::string dir_;
  std::unique_ptr<StoreServer> server_;
  std::vector<Subprocess> procs_;
};

// After `victim` was killed at `killed_at` (epoch ms): every other rank
// reported PeerLost within 2 s, with a message containing each of `names`
// (the lost peer, the operation).
inline void expect_peer_lost(const std::vector<Result>& results, int victim, long long killed_at,
                             const std::vector<std::string>& names) {
  for (const auto& r : results) {
    if (r.rank == victim) continue;
    EXPECT_EQ(r.code, "PeerLost") << "rank " << r.rank << " (exit " << r.status.code << ", signal "
                                  << r.status.signal << "): " << r.msg << "\n" << r.output;
    for (const auto& name : names) EXPECT_NE(r.msg.find(name), std::string::npos) << r.msg;
    EXPECT_LT(r.t_ms - killed_at, 2000) << "rank " << r.rank << ": " << r.msg;
  }
}

inline void expect_all_ok(const std::vector<Result>& results, const std::string& what) {
  for (const auto& r : results) {
    EXPECT_EQ(r.code, "OK") << what << " rank " << r.rank << ": " << r.msg << "\n" << r.output;
    EXPECT_TRUE(r.status.exited() && r.status.code == 0)
        << what << " rank " << r.rank << " exit " << r.status.code << " signal "
        << r.status.signal << ": " << r.msg << "\n" << r.output;
  }
}

}  // namespace weft::test
