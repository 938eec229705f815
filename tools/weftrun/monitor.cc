#include "monitor.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "weft/error.h"
#include "weft/log.h"

namespace weftrun {
namespace {

using Clock = std::chrono::steady_clock;
using weft::str;
using namespace std::chrono_literals;

void say(const std::string& line) { write_fully(STDERR_FILENO, "weftrun: " + line + "\n"); }

const char* kind_name(Outcome::Kind kind) {
  switch (kind) {
    case Outcome::Kind::Success: return "success";
    case Outcome::Kind::WorkerFailed: return "worker";
    case Outcome::Kind::AgentLost: return "agent";
    case Outcome::Kind::StoreLost: return "store";
    case Outcome::Kind::Interrupted: return "signal";
    case Outcome::Kind::LaunchFailed: return "launch";
  }
  return "?";
}

}  // namespace

std::string encode_failure(const Outcome& outcome, int node_rank) {
  return nlohmann::json{{"kind", kind_name(outcome.kind)}, {"code", outcome.exit_code},
                        {"message", outcome.message}, {"node", node_rank},
                        {"lost_node", outcome.lost_node}}
      .dump();
}

Outcome decode_failure(const std::string& record) {
  Outcome o;
  try {
    auto j = nlohmann::json::parse(record);
    std::string kind = j.at("kind").get<std::string>();
    o.kind = kind == "worker"   ? Outcome::Kind::WorkerFailed
             : kind == "agent"  ? Outcome::Kind::AgentLost
             : kind == "store"  ? Outcome::Kind::StoreLost
             : kind == "signal" ? Outcome::Kind::Interrupted
                                : Outcome::Kind::LaunchFailed;
    o.exit_code = j.at("code").get<int>();
    o.message = j.at("message").get<std::string>();
    o.lost_node = j.value("lost_node", -1);
  } catch (const std::exception& e) {
    o = {Outcome::Kind::LaunchFailed, 1, str("unreadable failure record in the store: ", record)};
  }
  return o;
}

RoundMonitor::RoundMonitor(const Options& options, Rendezvous& rendezvous, const Round& round, WorkerGroup& group,
                           const SignalEvents& signals, std::string host)
    : options_(options), rendezvous_(rendezvous), round_(round), group_(group), signals_(signals),
      host_(std::move(host)) {}

Outcome RoundMonitor::run() {
  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(options_.monitor_interval_s * 1000.0));
  auto now = Clock::now();
  seen_.assign(static_cast<size_t>(round_.nnodes), Seen{"", now});
  auto next_check = now;
  auto next_beat = now;
  try {
    if (group_.launch_error()) {
      Outcome failed{Outcome::Kind::LaunchFailed, 127, *group_.launch_error()};
      say(failed.message);
      return fail(failed);
    }
    for (;;) {
      std::vector<pollfd> fds{{signals_.fd(), POLLIN, 0}};
      group_.add_poll_fds(fds);
      auto wait = std::min(next_check, next_beat) - Clock::now();
      auto wait_ms = std::clamp<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count(), 0,
                                         interval.count());
      ::poll(fds.data(), fds.size(), static_cast<int>(wait_ms));
      signals_.drain();
      group_.pump();

      if (int sig = signals_.termination_signal()) {
        Outcome interrupted{Outcome::Kind::Interrupted, 128 + sig,
                            str("agent on host ", host_, " (node rank ", round_.node_rank, ") received ",
                                signal_name(sig))};
        say(interrupted.message + ": stopping every worker");
        stop_signal_ = sig;  // workers get what weftrun got (SIGINT: KeyboardInterrupt in Python)
        return fail(interrupted);
      }
      if (auto failed = group_.reap_failure()) {
        const LocalWorker& w = group_.worker(*failed);
        Outcome local{Outcome::Kind::WorkerFailed, w.process.status()->shell_code(), group_.describe_exit(*failed)};
        say(local.message);
        auto tail = w.err->tail();
        if (!tail.empty()) {
          std::string text = tail.size() == 1 ? str("last line of rank ", w.place.rank, "'s stderr:\n")
                                              : str("last ", tail.size(), " lines of rank ", w.place.rank,
                                                    "'s stderr:\n");
          for (const auto& line : tail) text += str("  [", w.place.rank, "]:", line, "\n");
          write_fully(STDERR_FILENO, "weftrun: " + text);
        }
        return fail(local);
      }
      if (!finished_reported_ && group_.all_succeeded()) {
        // Their last output may still sit in the pipes: print it all before
        // the round can end.
        group_.drain(std::chrono::seconds(2));
        round_.store->add("finished", 1);
        finished_reported_ = true;
      }
      now = Clock::now();
      if (now >= next_check) {
        if (auto outcome = check_store()) return *outcome;
        next_check = now + interval;
      }
      if (now >= next_beat) {
        if (auto outcome = heartbeat()) return *outcome;
        next_beat = now + options_.keep_alive_interval;
      }
    }
  } catch (const weft::Error& e) {
    Outcome lost{Outcome::Kind::StoreLost, 1,
                 str("lost the rendezvous store (", rendezvous_.store_description(), "): ", e.message())};
    say(lost.message);
    group_.stop(options_.kill_grace, stop_signal_);
    return lost;
  }
}

Outcome RoundMonitor::fail(Outcome local) {
  // The first failure recorded wins, so every agent reports the same one and
  // takes the same decision (restart or exit).
  std::string record = encode_failure(local, round_.node_rank);
  Outcome decided = local;
  try {
    auto winner = weft::to_string(round_.store->compare_set("failure", weft::Bytes{}, weft::to_bytes(record)));
    if (winner != record) {
      decided = decode_failure(winner);
      if (decided.lost_node >= 0) lost_.push_back(decided.lost_node);
      // Another agent noticed the same lost agent first: nothing new to say.
      bool same = decided.kind == local.kind && decided.lost_node >= 0 && decided.lost_node == local.lost_node;
      if (!same) say(str("(an earlier failure decides the outcome) ", decided.message));
    }
  } catch (const weft::Error& e) {
    say(str("could not record the failure in the store (", rendezvous_.store_description(), "): ", e.message()));
  }
  group_.stop(options_.kill_grace, stop_signal_);
  return decided;
}

std::optional<Outcome> RoundMonitor::check_store() {
  weft::Store& store = *round_.store;
  static const std::vector<std::string> failure_key = {"failure"};
  if (store.check(failure_key)) {
    Outcome remote = decode_failure(store.get_string("failure"));
    if (remote.lost_node >= 0) lost_.push_back(remote.lost_node);
    say(remote.message);
    WEFT_INFO("run", "stopping the ", group_.size(), " workers on host ", host_);
    group_.stop(options_.kill_grace, stop_signal_);
    return remote;
  }
  if (finished_reported_ && store.add("finished", 0) >= round_.nnodes) {
    all_finished_ = true;
    return Outcome{};
  }
  return std::nullopt;
}

std::optional<Outcome> RoundMonitor::heartbeat() {
  weft::Store& store = *round_.store;
  store.set(str("hb/", round_.node_rank), std::to_string(++beat_));
  if (round_.nnodes == 1) return std::nullopt;
  std::vector<std::string> keys;
  for (int i = 0; i < round_.nnodes; ++i) keys.push_back(str("hb/", i));
  auto values = store.multi_get(keys);
  const auto now = Clock::now();
  const auto limit = options_.keep_alive_interval * options_.keep_alive_max_attempt;
  for (int i = 0; i < round_.nnodes; ++i) {
    if (i == round_.node_rank) continue;
    Seen& seen = seen_[static_cast<size_t>(i)];
    std::string value = weft::to_string(values[static_cast<size_t>(i)]);
    if (value != seen.value) {
      seen = {value, now};
      continue;
    }
    if (now - seen.since > limit) {
      lost_.push_back(i);
      double silent = std::chrono::duration<double>(now - seen.since).count();
      Outcome lost{Outcome::Kind::AgentLost, 1,
                   str("agent on host ", round_.nodes[static_cast<size_t>(i)].host, " (node rank ", i,
                       ") stopped heartbeating (silent for ", static_cast<int>(silent + 0.5), " s)"),
                   i};
      say(lost.message);
      return fail(lost);
    }
  }
  return std::nullopt;
}

void RoundMonitor::leave(const Outcome& outcome) {
  if (outcome.kind == Outcome::Kind::StoreLost) return;
  try {
    round_.store->add("exited", 1);
    if (!rendezvous_.hosting()) return;
    const int64_t expected = round_.nnodes - static_cast<int64_t>(lost_.size());
    const auto deadline = Clock::now() + options_.kill_grace + 2s;
    while (Clock::now() < deadline && round_.store->add("exited", 0) < expected)
      std::this_thread::sleep_for(20ms);
  } catch (const weft::Error&) {
  }
}

}  // namespace weftrun
