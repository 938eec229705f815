// RegistrationClient: asks one peer's RegistrationService to map our buffers.
//
// The sending half of the registration flow (NCCL's ipcRegisterBuffer ->
// proxy call): import() passes an exported buffer to the peer and returns
// where the peer sees it; release() unmaps it there. Calls are blocking and
// serialized per client (one request in flight). Every failure is a
// weft::Error naming this rank, the peer rank and the request:
//   PeerLost  the peer's service closed the connection (the peer died)
//   Timeout   no reply within the timeout
//   <code>    the peer could not map it (its error, with its message)
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "ipc/mapper.h"
#include "net/fd.h"
#include "weft/error.h"

namespace weft::ipc {

// An exported buffer as the exporter describes it to a peer.
struct ExportDesc {
  HandleKind kind = HandleKind::PosixFd;
  int fd = -1;            // PosixFd: borrowed; a duplicate travels to the peer
  uint64_t size = 0;      // bytes of the whole exported allocation
  uint64_t offset = 0;    // where the registered range starts within it
  LegacyHandle legacy{};  // CudaLegacyIpc
};

// Where the peer sees an imported range.
struct RemoteMapping {
  uint64_t id = 0;        // the peer service's name for it (for release)
  uintptr_t address = 0;  // the range's first byte in the peer's address space
};

class RegistrationClient {
 public:
  // Connects to `address` (the peer's service), retrying until `timeout`.
  RegistrationClient(const std::string& address, int rank, int peer_rank,
                     std::chrono::milliseconds timeout);

  RemoteMapping import(const ExportDesc& desc);
  void release(uint64_t mapping_id);

  int peer_rank() const { return peer_rank_; }
  // The connection, for liveness watching only (poll for POLLRDHUP/POLLHUP:
  // the peer's service closes it when the peer process exits). Never read it.
  int liveness_fd() const { return sock_.get(); }

 private:
  struct Outcome;
  Outcome call(const void* request, size_t bytes, int fd, uint64_t request_id, const char* what);
  [[noreturn]] void fail(ErrorCode code, const std::string& message);

  std::mutex mu_;
  net::Fd sock_;
  int rank_;
  int peer_rank_;
  std::chrono::milliseconds timeout_;
  uint64_t next_request_ = 1;
  // Once a call fails mid-request the connection is closed for good; later
  // calls fail at once with the same code.
  std::optional<ErrorCode> failed_;
};

}  // namespace weft::ipc
