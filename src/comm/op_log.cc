#include "comm/op_log.h"

#include <cstdio>

#include "weft/log.h"

namespace weft {

const char* to_string(OpLog::State state) noexcept {
  switch (state) {
    case OpLog::State::queued: return "queued";
    case OpLog::State::running: return "running";
    case OpLog::State::done: return "done";
    case OpLog::State::failed: return "failed";
  }
  return "?";
}

uint64_t OpLog::add(const coll::OpDesc& desc, int ranks, Clock::time_point now, State state) {
  const uint64_t id = next_++;
  if (records_.size() < capacity_) records_.emplace_back();
  // Reused in place: the record's strings keep their storage.
  Record& r = records_[id & (capacity_ - 1)];
  r.id = id;
  r.what.clear();
  r.peers.clear();
  r.state = state;
  r.queued_at = now;
  r.started_at = state == State::queued ? Clock::time_point{} : now;
  r.ended_at = Clock::time_point{};
  r.desc = desc;
  r.ranks = ranks;
  return id;
}

void OpLog::set_state(uint64_t id, State state, Clock::time_point now) {
  if (id + capacity_ < next_) return;  // overwritten already
  Record& r = records_[id & (capacity_ - 1)];
  if (r.id != id) return;
  r.state = state;
  if (state == State::running) r.started_at = now;
  if (state == State::done || state == State::failed) r.ended_at = now;
}

std::vector<OpLog::Record> OpLog::snapshot() const {
  std::vector<Record> out;
  uint64_t first = next_ > records_.size() ? next_ - records_.size() : 0;
  for (uint64_t id = first; id < next_; ++id) {
    out.push_back(records_[id & (capacity_ - 1)]);
    Record& r = out.back();
    if (r.ranks > 0) {
      r.what = r.desc.describe();
      r.peers = r.desc.peer >= 0 ? "peer " + std::to_string(r.desc.peer) : std::to_string(r.ranks) + " ranks";
      r.ranks = 0;
    }
  }
  return out;
}

void OpLog::dump(const std::vector<Record>& records, int rank, const std::string& reason) {
  auto now = Clock::now();
  auto ago = [&](Clock::time_point t) -> std::string {
    if (t == Clock::time_point{}) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3fs ago",
                  std::chrono::duration<double>(now - t).count());
    return buf;
  };
  WEFT_WARN("comm", "rank ", rank, ": last ", records.size(), " operations (", reason, "):");
  for (const auto& r : records)
    WEFT_WARN("comm", "  rank ", rank, " op ", r.id, ": ", r.what, " [", r.peers, "] ",
              to_string(r.state), ", queued ", ago(r.queued_at), ", started ",
              ago(r.started_at), ", ended ", ago(r.ended_at));
}

}  // namespace weft
