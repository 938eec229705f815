// Wire format of the registration service (one SOCK_SEQPACKET record each way).
//
//   client -> service   Request  {Import | Release}   (+ 1 fd for a PosixFd import)
//   service -> client   Reply    {status, mapping id, address} + error text
//
// Import: "map this buffer (an allocation of `size` bytes, the registered
// range starts `offset` bytes into it) and tell me where you see the range".
// The reply's address is base-of-mapping + offset and its mapping id names
// the mapping for Release. A client has at most one request in flight; the
// reply echoes the request id and the service's rank, both checked.
// Both sides run on one host from one build, so records are native-endian
// PODs; magic + version catch a stray connection or a mixed install.
#pragma once

#include <cstdint>
#include <type_traits>

#include "ipc/mapper.h"

namespace weft::ipc::wire {

inline constexpr uint32_t kMagic = 0x57524547;  // "WREG"
inline constexpr uint32_t kVersion = 1;
inline constexpr size_t kMaxErrorText = 1024;

enum class Type : uint32_t { Import = 1, Release = 2, Reply = 3 };

struct Request {
  uint32_t magic = kMagic;
  uint32_t version = kVersion;
  Type type = Type::Import;
  HandleKind kind = HandleKind::PosixFd;
  int32_t rank = -1;  // the sender
  uint32_t reserved = 0;
  uint64_t request_id = 0;
  uint64_t size = 0;        // Import: bytes of the exported allocation
  uint64_t offset = 0;      // Import: start of the registered range within it
  uint64_t mapping_id = 0;  // Release: what to unmap
  LegacyHandle legacy{};    // Import of a CudaLegacyIpc handle
};

struct Reply {
  uint32_t magic = kMagic;
  uint32_t version = kVersion;
  Type type = Type::Reply;
  int32_t rank = -1;  // the service's rank
  uint64_t request_id = 0;
  int32_t status = 0;  // 0 = ok, else 1 + weft::ErrorCode
  uint32_t reserved = 0;
  uint64_t mapping_id = 0;
  uint64_t address = 0;
  // followed by up to kMaxErrorText bytes of error message when status != 0
};

static_assert(std::is_trivially_copyable_v<Request> && std::is_trivially_copyable_v<Reply>);

}  // namespace weft::ipc::wire
