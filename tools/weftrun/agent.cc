#include "agent.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "group.h"
#include "monitor.h"
#include "rendezvous.h"
#include "signals.h"
#include "weft/error.h"
#include "weft/log.h"

namespace weftrun {
namespace {

using weft::str;

void say(const std::string& line) { write_fully(STDERR_FILENO, "weftrun: " + line + "\n"); }

// Where per-rank logs go: --log-dir, or a fresh temporary directory when
// --redirects/--tee need files but no directory was given (as torchrun does).
std::string log_root(const Options& o) {
  std::string root = o.log_dir;
  bool want_files = o.redirects.all || !o.redirects.per_rank.empty() || o.tee.all || !o.tee.per_rank.empty();
  if (root.empty() && want_files) {
    std::string pattern = (std::filesystem::temp_directory_path() / "weftrun_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) weft::throw_errno("weftrun: mkdtemp");
    root = pattern;
    say(str("worker logs go to ", root));
  }
  return root;
}

std::string rank_range(int first, int count) {
  return count == 1 ? str("rank ", first) : str("ranks ", first, "-", first + count - 1);
}

}  // namespace

int run_agent(const Options& o) {
  const std::string host = host_label();
  if (o.nproc > 1 && ::getenv("OMP_NUM_THREADS") == nullptr)
    say("setting OMP_NUM_THREADS=1 for every worker to avoid overloading the machine; "
        "set it yourself to tune CPU threads per worker");

  // Connecting may wait for the hosting agent up to join_timeout; until the
  // signal handlers are installed below a Ctrl-C simply ends weftrun.
  Rendezvous rendezvous(o, host);
  SignalEvents signals;
  auto interrupted = [&] {
    if (int sig = signals.termination_signal())
      weft::throw_error(weft::ErrorCode::Aborted, str("received ", signal_name(sig), " during the rendezvous"));
  };
  const std::string logs = log_root(o);

  for (int index = 0;; ++index) {
    Round round;
    try {
      round = rendezvous.join(index, interrupted);
    } catch (const weft::Error& e) {
      say(e.message());
      int sig = signals.termination_signal();
      return sig != 0 ? 128 + sig : 1;
    } catch (const std::exception& e) {  // e.g. a foreign, unparsable node entry in the store
      say(str("rendezvous '", o.rdzv_id, "' round ", index, " failed: ", e.what()));
      return 1;
    }
    say(str("rendezvous '", o.rdzv_id, "' round ", index, ": node rank ", round.node_rank, " of ", round.nnodes,
            " (host ", host, "), ", rank_range(round.rank_offset, o.nproc), " of world size ", round.world_size,
            "; store ", rendezvous.store_description()));

    std::vector<WorkerPlace> places;
    for (int local = 0; local < o.nproc; ++local)
      places.push_back({round.rank_offset + local, local, round.world_size, o.nproc, round.node_rank, round.nnodes});
    RunInfo run{o.rdzv_id, index, o.max_restarts, rendezvous.store_host(), rendezvous.store_port()};
    std::string round_logs = logs.empty() ? "" : str(logs, "/", o.rdzv_id, "/attempt_", index);

    WorkerGroup group(o, host, places, run, round_logs);
    RoundMonitor monitor(o, rendezvous, round, group, signals, host);
    Outcome outcome = monitor.run();
    if (outcome.kind == Outcome::Kind::Success) {
      monitor.leave(outcome);
      return 0;
    }
    if (outcome.restartable() && index < o.max_restarts) {
      say(str("restarting the worker group (restart ", index + 1, " of at most ", o.max_restarts, ")"));
      continue;
    }
    monitor.leave(outcome);
    return outcome.exit_code != 0 ? outcome.exit_code : 1;
  }
}

}  // namespace weftrun
