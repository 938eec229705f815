// A per-communicator ring buffer of the most recent operations: what each
// was, whom it talked to, where it stands, and when it moved. Dumped to the
// log on a timeout (or any failure with WEFT_DUMP_ON_ERROR=1) so that an
// operator sees which rank is stuck in which operation.
//
// Not synchronised itself: its owner serialises every call (the
// communicator does so under the mutex it holds anyway while it queues and
// hands over operations, so that the log costs no lock of its own).
#pragma once

#include <algorithm>
#include <bit>
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
    // An operation's record keeps its descriptor and rank count; what and
    // peers ("peer P" for point-to-point) are formatted from them by
    // snapshot() (formatting them for every operation cost more than a small
    // operation's exchange).
    coll::OpDesc desc;
    int ranks = 0;  // > 0: a record still to be formatted
  };

  // `capacity` is rounded up to a power of two (records are found with a
  // mask: a division per call showed in a small operation's profile).
  explicit OpLog(size_t capacity = 64) : capacity_(std::bit_ceil(std::max<size_t>(capacity, 1))) {}

  // An operation (a collective, or a send / recv with desc.peer set) of a
  // communicator of `ranks` ranks, queued at `now` (`state` running: it
  // started then too).
  uint64_t add(const coll::OpDesc& desc, int ranks, Clock::time_point now,
               State state = State::queued);
  void set_state(uint64_t id, State state) { set_state(id, state, Clock::now()); }
  void set_state(uint64_t id, State state, Clock::time_point now);
  std::vector<Record> snapshot() const;
  // One WARN line per record of a snapshot, oldest first, times relative to now.
  static void dump(const std::vector<Record>& records, int rank, const std::string& reason);

 private:
  size_t capacity_;
  std::vector<Record> records_;  // ring: records_[id & (capacity_ - 1)]
  uint64_t next_ = 0;
};

const char* to_string(OpLog::State state) noexcept;

}  // namespace weft
