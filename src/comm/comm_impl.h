// Communicator::Impl — the engine behind the public Communicator.
//
// Collectives are queued in call order, numbered (the sequence number all
// ranks must agree on) and run one at a time by the communicator's worker
// thread, which executes the algorithm against the transport; the transport's
// own thread moves the bytes. Point-to-point operations bypass the queue: they
// are posted straight to the transport so that sends and receives can be
// issued in any order without deadlocking the worker.
//
// Failure handling lives here: an error inside an operation (Timeout from its
// deadline, PeerLost/Mismatch/Aborted from the transport) becomes the
// communicator's sticky root cause, is sent to the peers, fails the
// operation's Work, and fails every later operation fast.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "coll/context.h"
#include "coll/op_desc.h"
#include "coll/planner.h"
#include "comm/device_comm.h"
#include "comm/op_log.h"
#include "comm/work_state.h"
#include "shm/group.h"
#include "transport/transport.h"
#include "weft/communicator.h"

namespace weft {

struct CommConfig {
  std::chrono::milliseconds timeout{std::chrono::seconds(600)};
  std::string algo = "auto";
  bool dump_on_error = false;
  // Reads WEFT_TIMEOUT_S, WEFT_ALGO, WEFT_DUMP_ON_ERROR; options override.
  static CommConfig from_env(const CommOptions& options);
};

class Communicator::Impl {
 public:
  using Body = std::function<void(coll::Context&, const coll::Planner&)>;

  Impl(std::unique_ptr<transport::Transport> transport, CommConfig config);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  transport::Transport& transport() { return *transport_; }
  const CommConfig& config() const { return config_; }

  // Queues a collective; `desc.seq` is assigned here.
  Work submit(coll::OpDesc desc, Body body, const OpOptions& options);
  Work p2p(bool is_send, void* buf, size_t count, DataType type, int peer, uint32_t tag,
           const OpOptions& options);
  void abort();

  // Set by the bootstrap: the communicator's id (shared by its ranks), the
  // options it was created with, and this rank's published entry.
  uint64_t comm_id = 0;
  CommOptions options;
  std::string self_entry;
  int nsocks = 1;
  uint64_t splits = 0;  // how many split() calls so far (all ranks agree)

  // CUDA communicators: runs the device-memory operations (null for host memory).
  std::unique_ptr<DeviceComm> device;
  // Host-memory communicators: register_buffer handles handed out (they do nothing).
  std::mutex registrations_mutex;
  uint64_t next_registration = 1;
  std::set<uint64_t> registrations;
  // Set by the bootstrap before the first operation: this host's shared
  // memory group (may be null) and where the ranks are.
  void set_topology(std::unique_ptr<shm::Group> shm, coll::Topology topology);

  // Objects the communicator keeps alive (an embedded store server, the
  // store of init_from_env).
  void keep_alive(std::shared_ptr<void> object) { keep_alive_.push_back(std::move(object)); }

 private:
  struct Op {
    coll::OpDesc desc;
    std::string what;  // desc.describe()
    Body body;
    std::shared_ptr<Work::State> state;
    std::chrono::milliseconds timeout;
    uint64_t log_id;
  };
  struct P2pWatch {
    transport::RequestPtr request;
    coll::Clock::time_point deadline;
    std::string what;
    std::chrono::milliseconds timeout;
  };

  void worker_loop();
  void bind_worker(int local_rank, int local_size);
  // Runs one collective; returns its error (the caller completes the Work).
  std::exception_ptr run(Op& op);
  void check_p2p_deadlines();
  void on_transport_failure(const Error& error);
  // The error an operation reports for the communicator's root cause.
  Error in_context(const std::string& what, std::exception_ptr root) const;
  std::chrono::milliseconds timeout_of(const OpOptions& options) const;

  const int rank_, size_;
  const CommConfig config_;
  coll::Planner planner_;
  coll::Scratch scratch_;
  OpLog log_;

  std::mutex mutex_;  // queue_, stop_, next_seq_, current_, p2p state
  std::condition_variable cv_;
  std::deque<Op> queue_;
  bool stop_ = false;
  bool running_ = false;
  uint64_t next_seq_ = 0;
  std::string current_;
  std::map<std::pair<int, uint32_t>, uint64_t> p2p_sent_, p2p_received_;
  std::vector<P2pWatch> p2p_watch_;

  std::vector<std::shared_ptr<void>> keep_alive_;
  // Declared last: destroyed first, so its threads (which call back into
  // the members above) are gone before the members are.
  std::unique_ptr<transport::Transport> transport_;
  std::unique_ptr<shm::Group> shm_;  // guarded by mutex_ until set
  std::thread worker_;
};

}  // namespace weft
