// A per-communicator ring buffer of the most recent operations: what each
// was, whom it talked to, where it stands, and when it moved. Dumped to the
// log on a timeout (or any failure with WEFT_DUMP_ON_ERROR=1) so that an
// operator sees which rank is stuck in which operation.
//
// Not synchronised itself: its owner serialises every call (the
// communicator does so under the mutex it holds anyway while it queues and
// hands over operations, so that the log costs no lock of its own).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "coll/op_desc.h"

namespace weft {

class OpLog {
 public:
  enum class State : uint8_t { queued, running, done, failed };
  using Clock = std::chrono::steady_clock;
  struct Record {
    uint64_t id = 0;          // position in the log, for update()
    std::string what;         // "allreduce #12 (1000 x f32 sum, 3.9 KiB)"
    std::string peers;        // "ring 3->4->5" or "peer 2"
    State state = State::queued;
    Clock::time_point queued_at, started_at, ended_at;
    // A collective's record keeps its descriptor and rank count; what and
    // peers are formatted from them by snapshot() (formatting them for every
    // operation cost more than a small operation's exchange).
    coll::OpDesc desc;
    int ranks = 0;  // > 0: a collective's record, still to be formatted
  };

  explicit OpLog(size_t capacity = 64) : capacity_(capacity) {}

  uint64_t add(std::string what, std::string peers);
  // A collective among `ranks` ranks, queued at `now`.
  uint64_t add(const coll::OpDesc& desc, int ranks, Clock::time_point now);
  void set_state(uint64_t id, State state) { set_state(id, state, Clock::now()); }
  void set_state(uint64_t id, State state, Clock::time_point now);
  std::vector<Record> snapshot() const;
  // One WARN line per record of a snapshot, oldest first, times relative to now.
  static void dump(const std::vector<Record>& records, int rank, const std::string& reason);

 private:
  size_t capacity_;
  std::vector<Record> records_;  // ring: records_[id % capacity_]
  uint64_t next_ = 0;
};

const char* to_string(OpLog::State state) noexcept;

}  // namespace weft
