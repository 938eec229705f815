// An in-process transport: the ranks are threads of one process and a send
// copies straight into the receiver's matcher. It exists so that algorithms
// can be tested exhaustively without sockets, and as the reference behaviour
// the socket transport must match.
#pragma once

#include <memory>
#include <vector>

#include "transport/transport.h"

namespace weft::transport {

class LocalTransport;

// The rendezvous of `size` LocalTransports.
class LocalHub : public std::enable_shared_from_this<LocalHub> {
 public:
  static std::shared_ptr<LocalHub> create(int size);
  // The transport of `rank`; each rank's is created once.
  std::unique_ptr<LocalTransport> make(int rank, HeaderFormatter formatter);
  int size() const { return static_cast<int>(endpoints_.size()); }

 private:
  friend class LocalTransport;
  // Recursive: a delivery that finds a mismatch fails the receiver, which
  // notifies every endpoint, all under this lock.
  std::recursive_mutex mutex_;
  std::vector<LocalTransport*> endpoints_;
};

class LocalTransport : public Transport {
 public:
  LocalTransport(std::shared_ptr<LocalHub> hub, int rank, HeaderFormatter formatter);
  ~LocalTransport() override;
  const char* name() const override { return "local"; }

 protected:
  void start_send(const RequestPtr& request, const OpHeader* header) override;
  void broadcast_failure(ErrorCode code, const std::string& message) override;
  void fail_sends(std::exception_ptr) override {}  // sends complete at once

 private:
  void deliver(int from, const RequestPtr& send, const OpHeader* header);
  std::shared_ptr<LocalHub> hub_;
};

}  // namespace weft::transport
